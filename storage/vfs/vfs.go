// Package vfs is the file layer under package storage. Every file storage
// creates, writes, syncs, truncates, renames or removes goes through an FS,
// so that tests can fail an operation on demand (Faulty, as a dying disk
// does) or simulate a power loss that drops whatever was never synced
// (Crashable), and check what the log promises in either case.
//
// Every File is backed by an operating-system file, and File.OS returns it:
// two paths in storage cannot go through a layer and must not lose their
// speed to one. Indexes are memory-mapped (their stores are plain memory
// writes; SyncMapping is the layer's view of them), and Fetch hands segment
// bytes to the socket with sendfile. A layer therefore wraps the OS file
// and intercepts only the calls that change what is on disk; reads go
// straight to the OS file. The indirection costs one interface call per
// operation and no allocation.
package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// File is an open file.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Writer
	Name() string
	Stat() (fs.FileInfo, error)
	// Sync makes the file's data durable (fsync). On a directory it makes
	// the entries created, renamed or removed in it durable.
	Sync() error
	Truncate(size int64) error
	Close() error
	// OS is the operating-system file underneath, for mmap and sendfile.
	// Writes through it bypass the layer.
	OS() *os.File
}

// FS is a file system: the operations storage performs by name.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldpath, newpath string) error
	MkdirAll(name string, perm fs.FileMode) error
	ReadDir(name string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	Truncate(name string, size int64) error
	// SyncMapping makes data, a MAP_SHARED mapping of the file name, durable
	// (msync MS_SYNC). data is the range to sync, starting at a page.
	SyncMapping(name string, data []byte) error
}

// Default is the operating system's file system.
var Default FS = osFS{}

// osFS is the operating system's file system.
type osFS struct{}

// osFile gives *os.File the OS method.
type osFile struct{ *os.File }

func (f osFile) OS() *os.File { return f.File }

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                  { return os.RemoveAll(name) }
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }
func (osFS) Truncate(name string, size int64) error       { return os.Truncate(name, size) }
func (osFS) SyncMapping(name string, data []byte) error   { return msync(name, data) }

// ReadFile reads the whole file name through fsys.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f.OS())
}

// SyncPath fsyncs the file or directory name through a descriptor of its
// own.
func SyncPath(fsys FS, name string) error {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// The OpenFile flags layers look at.
const (
	createFlag = os.O_CREATE
	truncFlag  = os.O_TRUNC
)
