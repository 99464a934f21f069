package compattests

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/netlab"
	"github.com/gokafka/gokafka/internal/testcluster"
)

// tcpProxy forwards connections accepted on listenIP to target until the
// test ends; it lets brokers in network namespaces reach the ZooKeeper
// that listens on the root namespace's loopback.
func tcpProxy(t *testing.T, listenIP, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(listenIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(out, in); out.Close() }()
			go func() { defer wg.Done(); io.Copy(in, out); in.Close() }()
		}
	}()
	return ln.Addr().String()
}

// namespacedCluster starts three brokers, each in its own network
// namespace of a netlab, reaching ZooKeeper through a proxy on the lab's
// service address. It returns the lab, the brokers by lab host index and
// the bootstrap addresses.
func namespacedCluster(t *testing.T) (*netlab.Lab, *testcluster.Cluster, []*testcluster.Broker, []string) {
	t.Helper()
	lab := netlab.New(t, 3)
	c := testcluster.New(t)
	zk := tcpProxy(t, lab.ServiceIP(), c.ZK.Addr)
	var bs []*testcluster.Broker
	var seeds []string
	for i := 0; i < 3; i++ {
		b := c.NewBroker(t, map[string]string{
			"listeners":                 "PLAINTEXT://" + net.JoinHostPort(lab.Host(i).IP, strconv.Itoa(9092)),
			"zookeeper.connect":         zk + c.Chroot,
			"replica.lag.time.max.ms":   "4000",
			"replica.fetch.wait.max.ms": "100",
			"min.insync.replicas":       "2",
		})
		b.SetCommandPrefix(lab.Exec(i)...)
		bs = append(bs, b)
		seeds = append(seeds, b.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.StartTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(bs))
	for i, b := range bs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = b.Start(ctx) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return lab, c, bs, seeds
}

// TestReplicationNetworkPartitions cuts the leader of a partition off the
// network while an idempotent acks=all producer writes, in two ways: from
// the other brokers and ZooKeeper (its clients can still reach it), and
// from the followers only. In both, no acknowledged write may be lost,
// duplicated or reordered, and once the links are mended the ISR is whole
// again and writes go on.
func TestReplicationNetworkPartitions(t *testing.T) {
	if why := netlab.Available(); why != "" {
		t.Skipf("network partitions: %s", why)
	}
	for _, tc := range []struct {
		name string
		cut  func(lab *netlab.Lab, leader int)
		mend func(lab *netlab.Lab, leader int)
	}{
		{"from brokers and zookeeper", func(lab *netlab.Lab, l int) {
			for i := 0; i < 3; i++ {
				if i != l {
					lab.Cut(l, i)
				}
			}
			lab.CutService(l)
		}, func(lab *netlab.Lab, l int) {
			for i := 0; i < 3; i++ {
				if i != l {
					lab.Mend(l, i)
				}
			}
			lab.MendService(l)
		}},
		{"from the followers only", func(lab *netlab.Lab, l int) {
			for i := 0; i < 3; i++ {
				if i != l {
					lab.Cut(l, i)
				}
			}
		}, func(lab *netlab.Lab, l int) {
			for i := 0; i < 3; i++ {
				if i != l {
					lab.Mend(l, i)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab, c, bs, seeds := namespacedCluster(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
			if err != nil {
				t.Fatal(err)
			}
			defer adm.Close()
			const topic, partitions = "cut", 3
			z := c.ZKClient(t)
			createReplicated(ctx, t, adm, z, topic, partitions, nil)
			w := startWorkload(ctx, t, seeds, topic, partitions)
			w.progress(100)

			st, _ := readState(t, z, topic, 0)
			leader := -1
			for i, b := range bs {
				if b.ID == st.Leader {
					leader = i
				}
			}
			t.Logf("cutting broker %d (leader of %s-0 at epoch %d) %s", st.Leader, topic, st.LeaderEpoch, tc.name)
			tc.cut(lab, leader)
			if tc.name == "from brokers and zookeeper" {
				// Its session expires and the controller moves leadership.
				waitUntil(t, time.Minute, "a new leader", func() bool {
					now, ok := readState(t, z, topic, 0)
					return ok && now.Leader >= 0 && now.Leader != st.Leader
				})
			} else {
				// It stays registered and leader; the cut lasts two
				// replica.lag.time.max.ms, so the ISR rules are exercised.
				time.Sleep(8 * time.Second)
			}
			tc.mend(lab, leader)
			t.Logf("mended")
			waitUntil(t, 2*time.Minute, "full ISRs after the partition healed", wholeISRs(t, z, topic, partitions, 3))
			w.progress(100)
			w.stop()
			w.check(ctx, seeds)
		})
	}
}
