package vfs

import (
	"io/fs"
	"strings"
	"sync"
)

// Op names the operations a Faulty layer can fail. They combine as a set.
type Op uint16

// The operations that change what is on disk.
const (
	OpWrite    Op = 1 << iota // File.Write and File.WriteAt
	OpSync                    // File.Sync (fsync), of files and directories
	OpTruncate                // File.Truncate and FS.Truncate
	OpCreate                  // OpenFile with O_CREATE
	OpRename                  // FS.Rename
	OpRemove                  // FS.Remove and FS.RemoveAll
	OpMsync                   // FS.SyncMapping
)

// Faulty wraps an FS and fails the operations a test asks it to, as a disk
// that returns EIO does. A fault, once injected, stays until Clear: a real
// disk that failed an fsync does not come back because it was asked again.
type Faulty struct {
	inner FS

	mu     sync.Mutex
	faults []fault
}

// fault fails the operations ops on paths under prefix with err.
type fault struct {
	ops    Op
	prefix string
	err    error
}

// NewFaulty wraps inner (nil: Default).
func NewFaulty(inner FS) *Faulty {
	if inner == nil {
		inner = Default
	}
	return &Faulty{inner: inner}
}

// Inject makes every later operation in ops on a path under prefix (a file
// or directory path; "" is every path) fail with err.
func (f *Faulty) Inject(ops Op, prefix string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fault{ops: ops, prefix: prefix, err: err})
}

// Clear removes every injected fault.
func (f *Faulty) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// check returns the error injected for op on name, if any.
func (f *Faulty) check(op Op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ft := range f.faults {
		if ft.ops&op != 0 && under(name, ft.prefix) {
			return &fs.PathError{Op: opName(op), Path: name, Err: ft.err}
		}
	}
	return nil
}

// under reports whether name is prefix or lies below it.
func under(name, prefix string) bool {
	if prefix == "" || name == prefix {
		return true
	}
	return strings.HasPrefix(name, strings.TrimSuffix(prefix, "/")+"/")
}

func opName(op Op) string {
	switch op {
	case OpWrite:
		return "write"
	case OpSync:
		return "fsync"
	case OpTruncate:
		return "truncate"
	case OpCreate:
		return "create"
	case OpRename:
		return "rename"
	case OpRemove:
		return "remove"
	case OpMsync:
		return "msync"
	}
	return "op"
}

func (f *Faulty) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if flag&createFlag != 0 {
		if err := f.check(OpCreate, name); err != nil {
			return nil, err
		}
	}
	if flag&truncFlag != 0 {
		if err := f.check(OpTruncate, name); err != nil {
			return nil, err
		}
	}
	inner, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{File: inner, fs: f}, nil
}

func (f *Faulty) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

func (f *Faulty) RemoveAll(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.RemoveAll(name)
}

func (f *Faulty) Rename(oldpath, newpath string) error {
	if err := f.check(OpRename, newpath); err != nil {
		return err
	}
	return f.inner.Rename(oldpath, newpath)
}

func (f *Faulty) MkdirAll(name string, perm fs.FileMode) error {
	if err := f.check(OpCreate, name); err != nil {
		return err
	}
	return f.inner.MkdirAll(name, perm)
}

func (f *Faulty) ReadDir(name string) ([]fs.DirEntry, error) { return f.inner.ReadDir(name) }
func (f *Faulty) Stat(name string) (fs.FileInfo, error)      { return f.inner.Stat(name) }

func (f *Faulty) Truncate(name string, size int64) error {
	if err := f.check(OpTruncate, name); err != nil {
		return err
	}
	return f.inner.Truncate(name, size)
}

func (f *Faulty) SyncMapping(name string, data []byte) error {
	if err := f.check(OpMsync, name); err != nil {
		return err
	}
	return f.inner.SyncMapping(name, data)
}

// faultyFile checks its layer's faults before each write, sync and
// truncate.
type faultyFile struct {
	File
	fs *Faulty
}

func (f *faultyFile) Write(b []byte) (int, error) {
	if err := f.fs.check(OpWrite, f.Name()); err != nil {
		return 0, err
	}
	return f.File.Write(b)
}

func (f *faultyFile) WriteAt(b []byte, off int64) (int, error) {
	if err := f.fs.check(OpWrite, f.Name()); err != nil {
		return 0, err
	}
	return f.File.WriteAt(b, off)
}

func (f *faultyFile) Sync() error {
	if err := f.fs.check(OpSync, f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultyFile) Truncate(size int64) error {
	if err := f.fs.check(OpTruncate, f.Name()); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
