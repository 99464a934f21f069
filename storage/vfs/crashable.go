package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Crashable wraps the operating system's file system under one root and
// keeps, beside the files themselves (what the process reads back: the
// page cache), what a power loss would leave on disk:
//
//   - a file's content is durable as of its last fsync (File.Sync, through
//     any descriptor, or SyncMapping); every write, truncate and O_TRUNC
//     since is an unsynced change, kept in order;
//   - a directory entry (a create, rename or remove) is durable once the
//     directory holding it is fsynced. Directories themselves are durable
//     at once: storage never relies on creating one.
//
// Stores into a memory mapping are not seen until the file is synced, so a
// crash drops them, which is what the disk may do.
//
// Crashable never fsyncs or msyncs the real files: durability is what it
// models, and the real calls would only make crash tests slow.
//
// CrashImage writes what a power loss at that moment leaves into another
// directory, keeping of each file's unsynced changes what a Keep says:
// none, a prefix, or a prefix and a torn piece of the next write. OnOp
// lets a test take that image after any single operation, so a table of
// crash points covers every step of a write protocol.
type Crashable struct {
	root string

	mu      sync.Mutex
	ops     int
	onOp    func(n int)
	live    map[string]*inode // path -> file, as the process sees the tree
	durable map[string]*inode // path -> file, as a crash leaves the tree
}

// inode is one file's durable content and its changes since.
type inode struct {
	synced     []byte // content at the last sync, trailing zeros trimmed
	syncedSize int64
	pending    []change
}

// change is one unsynced write (data at off) or truncate (to size).
type change struct {
	off   int64
	data  []byte
	trunc bool
	size  int64
}

// Keep decides how much of a file's unsynced changes a crash keeps. sizes
// are the changes' lengths in bytes, oldest first (0 for a truncate). In
// this model the changes of one file reach the disk in order.
type Keep func(path string, sizes []int) Kept

// Kept is what a crash keeps of a file's unsynced changes: the first Whole
// changes, then the first Torn bytes of the next one when it is a write (a
// write cut short). With ZeroTorn those bytes read as zeros instead: the
// file grew but its data blocks never reached the disk.
type Kept struct {
	Whole, Torn int
	ZeroTorn    bool
}

// DropUnsynced keeps nothing that was not synced.
func DropUnsynced(string, []int) Kept { return Kept{} }

// KeepUnsynced keeps every change, as a process crash (the page cache
// survives) does.
func KeepUnsynced(_ string, sizes []int) Kept { return Kept{Whole: len(sizes)} }

// NewCrashable tracks root, taking every file already under it as durable.
func NewCrashable(root string) (*Crashable, error) {
	root = filepath.Clean(root)
	c := &Crashable{root: root, live: map[string]*inode{}, durable: map[string]*inode{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n, err := adopt(p)
		if err != nil {
			return err
		}
		c.live[p], c.durable[p] = n, n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("track %s: %w", root, err)
	}
	return c, nil
}

// adopt makes an inode whose durable content is the file's current one.
func adopt(path string) (*inode, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n := &inode{}
	n.setSynced(data)
	return n, nil
}

func (n *inode) setSynced(data []byte) {
	n.syncedSize = int64(len(data))
	n.synced = bytes.Clone(bytes.TrimRight(data, "\x00"))
	n.pending = nil
}

// OnOp calls fn after each operation that changes the disk, with the
// number of such operations so far (from 1). fn runs in the goroutine that
// made the operation, outside the layer's lock, so it may call CrashImage.
func (c *Crashable) OnOp(fn func(n int)) {
	c.mu.Lock()
	c.onOp = fn
	c.mu.Unlock()
}

// Ops is the number of operations that changed the disk so far.
func (c *Crashable) Ops() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops
}

// did counts one operation and runs the hook; called without mu.
func (c *Crashable) did() {
	c.mu.Lock()
	c.ops++
	n, fn := c.ops, c.onOp
	c.mu.Unlock()
	if fn != nil {
		fn(n)
	}
}

// CrashImage writes into dst (created; it must not exist yet) the tree a
// power loss now would leave under the root: the durable entries, each
// with its synced content and what keep keeps of its unsynced changes.
func (c *Crashable) CrashImage(dst string, keep Keep) error {
	if keep == nil {
		keep = DropUnsynced
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("crash image: %w", err)
	}
	paths := make([]string, 0, len(c.durable))
	for p := range c.durable {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		rel, err := filepath.Rel(c.root, p)
		if err != nil {
			return fmt.Errorf("crash image: %w", err)
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return fmt.Errorf("crash image: %w", err)
		}
		data, size := c.durable[p].afterCrash(p, keep)
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return fmt.Errorf("crash image: %w", err)
		}
		if err := os.Truncate(out, size); err != nil {
			return fmt.Errorf("crash image: %w", err)
		}
	}
	// Directories survive even when empty.
	return filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(c.root, p)
		if err != nil {
			return err
		}
		return os.MkdirAll(filepath.Join(dst, rel), 0o755)
	})
}

// afterCrash is the content a crash leaves, the synced bytes and then the
// changes keep keeps, as the bytes up to the last one written and the
// file's size (the rest reads as zeros: preallocated indexes stay sparse).
func (n *inode) afterCrash(path string, keep Keep) ([]byte, int64) {
	data, size := bytes.Clone(n.synced), n.syncedSize
	sizes := make([]int, len(n.pending))
	for i, ch := range n.pending {
		sizes[i] = len(ch.data)
	}
	k := keep(path, sizes)
	whole := min(max(k.Whole, 0), len(n.pending))
	for _, ch := range n.pending[:whole] {
		data, size = ch.apply(data, size, len(ch.data))
	}
	if whole < len(n.pending) && k.Torn > 0 && !n.pending[whole].trunc {
		ch := n.pending[whole]
		if k.ZeroTorn {
			ch.data = make([]byte, len(ch.data))
		}
		data, size = ch.apply(data, size, min(k.Torn, len(ch.data)))
	}
	return data, size
}

// apply applies the change, of a write only its first n bytes, to a file
// of size bytes whose first len(data) are data.
func (ch change) apply(data []byte, size int64, n int) ([]byte, int64) {
	if ch.trunc {
		return data[:min(int64(len(data)), ch.size)], ch.size
	}
	end := ch.off + int64(n)
	if end > int64(len(data)) {
		data = append(data, make([]byte, end-int64(len(data)))...)
	}
	copy(data[ch.off:end], ch.data[:n])
	return data, max(size, end)
}

// record appends a change to the file open as f.
func (c *Crashable) record(n *inode, ch change) {
	c.mu.Lock()
	n.pending = append(n.pending, ch)
	c.mu.Unlock()
	c.did()
}

func (c *Crashable) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	name = filepath.Clean(name)
	_, statErr := os.Stat(name)
	existed := statErr == nil
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		return &crashFile{File: osFile{f}, c: c, dir: name}, nil
	}
	c.mu.Lock()
	n := c.live[name]
	created := false
	switch {
	case n == nil && !existed:
		n, created = &inode{}, true
		c.live[name] = n
	case n == nil:
		// A file made outside the layer: take it as durable.
		data, err := os.ReadFile(name)
		if err != nil {
			c.mu.Unlock()
			f.Close()
			return nil, err
		}
		n = &inode{}
		n.setSynced(data)
		c.live[name], c.durable[name] = n, n
	}
	truncated := existed && flag&truncFlag != 0
	if truncated {
		n.pending = append(n.pending, change{trunc: true})
	}
	c.mu.Unlock()
	if created || truncated {
		c.did()
	}
	return &crashFile{File: osFile{f}, c: c, n: n}, nil
}

func (c *Crashable) Remove(name string) error {
	name = filepath.Clean(name)
	if err := os.Remove(name); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.live, name)
	c.mu.Unlock()
	c.did()
	return nil
}

func (c *Crashable) RemoveAll(name string) error {
	name = filepath.Clean(name)
	if err := os.RemoveAll(name); err != nil {
		return err
	}
	c.mu.Lock()
	for p := range c.live {
		if under(p, name) {
			delete(c.live, p)
		}
	}
	c.mu.Unlock()
	c.did()
	return nil
}

func (c *Crashable) Rename(oldpath, newpath string) error {
	oldpath, newpath = filepath.Clean(oldpath), filepath.Clean(newpath)
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	c.mu.Lock()
	if n, ok := c.live[oldpath]; ok {
		c.live[newpath] = n
		delete(c.live, oldpath)
	}
	// A directory's files move with it (a log moved between log dirs).
	for p, n := range c.live {
		if under(p, oldpath) && p != oldpath {
			c.live[filepath.Join(newpath, strings.TrimPrefix(p, oldpath+string(filepath.Separator)))] = n
			delete(c.live, p)
		}
	}
	c.mu.Unlock()
	c.did()
	return nil
}

func (c *Crashable) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }
func (c *Crashable) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (c *Crashable) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }

func (c *Crashable) Truncate(name string, size int64) error {
	name = filepath.Clean(name)
	if err := os.Truncate(name, size); err != nil {
		return err
	}
	c.mu.Lock()
	n := c.live[name]
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	c.record(n, change{trunc: true, size: size})
	return nil
}

// SyncMapping msyncs and then takes the whole file as durable: storage
// syncs the mapped entries, and the rest of the mapping is the
// preallocated zero tail.
func (c *Crashable) SyncMapping(name string, data []byte) error {
	name = filepath.Clean(name)
	c.mu.Lock()
	n := c.live[name]
	c.mu.Unlock()
	if n == nil {
		return nil
	}
	content, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	n.setSynced(content)
	c.mu.Unlock()
	c.did()
	return nil
}

// syncDir makes the entries of dir durable as the process sees them.
func (c *Crashable) syncDir(dir string) {
	c.mu.Lock()
	for p := range c.durable {
		if c.live[p] != c.durable[p] && entryIn(p, dir) {
			delete(c.durable, p)
		}
	}
	for p, n := range c.live {
		if filepath.Dir(p) == dir {
			c.durable[p] = n
		}
	}
	c.mu.Unlock()
	c.did()
}

// entryIn reports whether path's entry lives in dir: directly, or below a
// subdirectory of dir that is gone (its removal is an entry of dir).
func entryIn(path, dir string) bool {
	if filepath.Dir(path) == dir {
		return true
	}
	if !strings.HasPrefix(path, dir+string(filepath.Separator)) {
		return false
	}
	rel := strings.TrimPrefix(path, dir+string(filepath.Separator))
	top, _, _ := strings.Cut(rel, string(filepath.Separator))
	_, err := os.Stat(filepath.Join(dir, top))
	return errors.Is(err, fs.ErrNotExist)
}

// crashFile records the changes made through it.
type crashFile struct {
	File
	c   *Crashable
	n   *inode // nil for a directory
	dir string // the directory's path, for a directory
}

func (f *crashFile) WriteAt(b []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(b, off)
	if n > 0 && f.n != nil {
		f.c.record(f.n, change{off: off, data: bytes.Clone(b[:n])})
	}
	return n, err
}

func (f *crashFile) Write(b []byte) (int, error) {
	off, err := f.OS().Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	n, err := f.File.Write(b)
	if n > 0 && f.n != nil {
		f.c.record(f.n, change{off: off, data: bytes.Clone(b[:n])})
	}
	return n, err
}

func (f *crashFile) Truncate(size int64) error {
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	if f.n != nil {
		f.c.record(f.n, change{trunc: true, size: size})
	}
	return nil
}

func (f *crashFile) Sync() error {
	if f.n == nil {
		f.c.syncDir(f.dir)
		return nil
	}
	// Read back through the descriptor's own inode, whatever its name
	// now and even when it was opened write-only.
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.OS().Fd()))
	if err != nil {
		return err
	}
	f.c.mu.Lock()
	f.n.setSynced(data)
	f.c.mu.Unlock()
	f.c.did()
	return nil
}
