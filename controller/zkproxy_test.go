package controller_test

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
)

// zkProxy forwards TCP connections to ZooKeeper and counts, per path, the
// getData requests the client sends (opcode 4), so a test can tell how
// often a controller reads a znode. It parses only the client's side of
// ZooKeeper's framing: a 4-byte length, then (after the connect request
// that opens each connection) xid, opcode and the request body, whose
// first field for getData is the path.
type zkProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	reads map[string]int
	conns []net.Conn
	wg    sync.WaitGroup
}

// opGetData is ZooKeeper's OpCode.getData.
const opGetData = 4

func startZKProxy(t *testing.T, target string) *zkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &zkProxy{ln: ln, target: target, reads: map[string]int{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *zkProxy) addr() string { return p.ln.Addr().String() }

func (p *zkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			defer s.Close()
			p.clientToServer(c, s)
		}()
		go func() {
			defer p.wg.Done()
			defer c.Close()
			io.Copy(c, s)
		}()
	}
}

// clientToServer copies frames from the client to ZooKeeper, counting
// getData requests by path.
func (p *zkProxy) clientToServer(c, s net.Conn) {
	first := true
	var size [4]byte
	for {
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(size[:])
		if n > 16<<20 {
			return
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(c, frame); err != nil {
			return
		}
		if !first && len(frame) >= 12 && int32(binary.BigEndian.Uint32(frame[4:])) == opGetData {
			if l := int(int32(binary.BigEndian.Uint32(frame[8:]))); l >= 0 && 12+l <= len(frame) {
				p.mu.Lock()
				p.reads[string(frame[12:12+l])]++
				p.mu.Unlock()
			}
		}
		first = false
		if _, err := s.Write(append(size[:], frame...)); err != nil {
			return
		}
	}
}

// getDataCount is how many getData requests for the ZooKeeper path (chroot
// included) went through the proxy.
func (p *zkProxy) getDataCount(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads[path]
}

func (p *zkProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
