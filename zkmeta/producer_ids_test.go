package zkmeta

import (
	"sort"
	"sync"
	"testing"
)

func TestProducerIDBlocks(t *testing.T) {
	chroot := testChroot(t)
	a, b := connect(t, chroot), connect(t, chroot)
	ctx := testCtx(t)

	start, end, err := a.AllocateProducerIDBlock(ctx, 1)
	if err != nil || start != 0 || end != ProducerIDBlockSize-1 {
		t.Fatalf("first block = [%d, %d], %v; want [0, 999]", start, end, err)
	}
	data, _ := rawGet(t, rawConn(t), chroot+"/latest_producer_id_block")
	jsonEqual(t, data, `{"version":1,"broker":1,"block_start":"0","block_end":"999"}`)

	// Two brokers allocating at once never get overlapping blocks.
	type block struct{ start, end int64 }
	const perClient = 15
	var mu sync.Mutex
	blocks := []block{{start, end}}
	var wg sync.WaitGroup
	for i, c := range []*Client{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perClient; j++ {
				s, e, err := c.AllocateProducerIDBlock(ctx, int32(i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				blocks = append(blocks, block{s, e})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].start < blocks[j].start })
	if len(blocks) != 2*perClient+1 {
		t.Fatalf("%d blocks, want %d", len(blocks), 2*perClient+1)
	}
	for i, bl := range blocks {
		if bl.start != int64(i)*ProducerIDBlockSize || bl.end != bl.start+ProducerIDBlockSize-1 {
			t.Fatalf("block %d = [%d, %d]; want consecutive blocks of %d without overlap: %v", i, bl.start, bl.end, ProducerIDBlockSize, blocks)
		}
	}
}

// TestProducerIDBlockMissingZnode covers a ZooKeeper where the path was
// deleted after startup: it is created again and starts at 0.
func TestProducerIDBlockMissingZnode(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	if err := rawConn(t).Delete(chroot+"/latest_producer_id_block", -1); err != nil {
		t.Fatal(err)
	}
	if s, e, err := c.AllocateProducerIDBlock(testCtx(t), 0); err != nil || s != 0 || e != 999 {
		t.Fatalf("block = [%d, %d], %v; want [0, 999]", s, e, err)
	}
}
