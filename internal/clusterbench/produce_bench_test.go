package clusterbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/perftest"
)

// runTimeout bounds one produce or end-to-end run; a run that has not
// finished by then is reported as failed rather than waited for.
const runTimeout = 5 * time.Minute

// Row order of the section's table (issue 8's order).
const (
	orderProduceRF1 = iota
	orderProduceRF3
	orderProduceRatio
	orderE2ERF3
	orderE2ERF1
	orderSIGTERM
	orderSIGKILL
	orderCatchUpLaunch
	orderCatchUpServing
	orderReassignRate
	orderReassignP99
)

// produceRun is one producer-perf-test run's outcome.
type produceRun struct {
	sum perftest.ProducerSummary
	cpu cpuUse
}

// produce runs producer-perf-test's code against bc: records 1 KiB records
// to topic with the given properties, unthrottled, and returns its summary
// with the brokers' CPU over the run. Every record must be acknowledged.
func (bc *benchCluster) produce(b *testing.B, topic string, records int64, props map[string]string) produceRun {
	b.Helper()
	summary := filepath.Join(b.TempDir(), "producer.json")
	p := map[string]string{"bootstrap.servers": strings.Join(bc.seeds, ","), "client.id": "clusterbench-producer"}
	for k, v := range props {
		p[k] = v
	}
	o := perftest.ProducerOptions{Topic: topic, NumRecords: records, RecordSize: recordSize, Throughput: -1,
		Props: p, SummaryJSON: summary}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	before := sampleCPU(bc)
	err := perftest.RunProducer(ctx, o, &out, &errOut)
	use := before.until(sampleCPU(bc))
	if err != nil {
		b.Fatalf("producer-perf-test to %s: %v\n%s%s", topic, err, lastLines(errOut.String(), 10), lastLines(out.String(), 3))
	}
	data, err := os.ReadFile(summary)
	if err != nil {
		b.Fatal(err)
	}
	var s perftest.ProducerSummary
	if err := json.Unmarshal(data, &s); err != nil {
		b.Fatalf("producer summary %s: %v", summary, err)
	}
	if s.Records != records || s.Failed != 0 {
		b.Fatalf("producer-perf-test to %s: %d of %d records acknowledged, %d failed", topic, s.Records, records, s.Failed)
	}
	return produceRun{sum: s, cpu: use}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// BenchmarkReplicatedProduce is issue 8's first figure: 1 KiB records, RF 3
// acks=all with the idempotent producer against RF 1 acks=1 on one broker,
// both led by the same broker of the same cluster, runs alternating. It
// reports the medians and their ratio.
func BenchmarkReplicatedProduce(b *testing.B) {
	records := int64(envInt(b, "BENCH_CLUSTER_RECORDS", 1_000_000))
	reps := envInt(b, "BENCH_CLUSTER_REPEAT", 3)
	bc := startCluster(b)
	ctrl, others := bc.layout(b)
	leader := others[0]
	replicas := map[int][]int32{1: {leader}, 3: {leader, others[1], ctrl}}
	props := map[int]map[string]string{
		1: producerProps(b, map[string]string{"acks": "1", "enable.idempotence": "false"}),
		3: producerProps(b, map[string]string{"acks": "all", "enable.idempotence": "true"}),
	}
	log := benchLog{name: "BenchmarkReplicatedProduce"}
	start := sampleCPU(bc)
	mbs := map[int][]float64{}
	cpu := map[int][]float64{}
	var ratios []float64
	for rep := 1; rep <= reps; rep++ {
		order := []int{1, 3}
		if rep%2 == 0 {
			order = []int{3, 1}
		}
		for _, rf := range order {
			topic := fmt.Sprintf("bench-produce-rf%d-%d", rf, rep)
			bc.createTopic(b, topic, replicas[rf], topicConfigs(rf))
			warm := warmMemory(b, int64(rf)*records*recordSize)
			r := bc.produce(b, topic, records, props[rf])
			st, _ := bc.state(topic, 0)
			bc.deleteTopic(b, topic)
			mbs[rf] = append(mbs[rf], r.sum.MBPerSec)
			cpu[rf] = append(cpu[rf], r.cpu.perGiB(r.sum.Bytes))
			line := fmt.Sprintf("run %d, RF %d acks=%s: %d records, %.1f MiB/s, latency avg %.1f ms p99 %.0f ms; brokers %.2f CPU-s (%s), %.2f per GiB; others %.2f CPU-s over %.1f s; ISR after %v; memory warmed at %.0f MiB/s",
				rep, rf, props[rf]["acks"], r.sum.Records, r.sum.MBPerSec, r.sum.AvgLatencyMs, r.sum.P99Ms,
				r.cpu.brokers, byBroker(r.cpu), r.cpu.perGiB(r.sum.Bytes), r.cpu.others, r.cpu.wall, st.ISR, warm)
			log.lines = append(log.lines, line)
			b.Log(line)
		}
		ratios = append(ratios, mbs[3][len(mbs[3])-1]/mbs[1][len(mbs[1])-1])
	}
	log.load = start.until(sampleCPU(bc))
	rf1, rf3 := spreadOf(mbs[1]), spreadOf(mbs[3])
	ratio := spreadOf(ratios)
	ratio.median = rf3.median / rf1.median // the ratio of the medians; the range is the pairs'
	report.addFigure(figure{order: orderProduceRF1, name: "Produce RF 1 acks=1, one broker, MiB/s", value: rf1, prec: 1,
		cpu: spreadOf(cpu[1])})
	report.addFigure(figure{order: orderProduceRF3, name: "Produce RF 3 acks=all idempotent, MiB/s", value: rf3, prec: 1,
		cpu: spreadOf(cpu[3])})
	report.addFigure(figure{order: orderProduceRatio, name: "RF 3 acks=all / RF 1 acks=1", value: ratio, prec: 2,
		target: ">= 0.5x"})
	report.addBench(log)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rf1.median, "rf1-MiB/s")
	b.ReportMetric(rf3.median, "rf3-MiB/s")
	b.ReportMetric(ratio.median, "rf3/rf1")
	b.ReportMetric(spreadOf(cpu[1]).median, "rf1-cpu-s/GiB")
	b.ReportMetric(spreadOf(cpu[3]).median, "rf3-cpu-s/GiB")
}

// topicConfigs returns the configs of a topic with replication factor rf:
// rf3Configs for a replicated one, none for RF 1.
func topicConfigs(rf int) map[string]string {
	if rf > 1 {
		return rf3Configs
	}
	return nil
}

// byBroker prints each broker's CPU seconds: "broker 0 1.20, broker 1 0.80".
func byBroker(u cpuUse) string {
	var parts []string
	for id := int32(0); id < 16; id++ {
		if s, ok := u.byBroker[id]; ok {
			parts = append(parts, fmt.Sprintf("broker %d %.2f", id, s))
		}
	}
	return strings.Join(parts, ", ")
}

// e2eRate is issue 8's end-to-end load: 20 MiB/s of 1 KiB records.
const e2eRate = 20 * 1024

// BenchmarkReplicatedEndToEnd is issue 8's second figure: the end-to-end
// p99 of 1 KiB records at 20 MiB/s with RF 3 and acks=all, measured by
// end-to-end-latency's code (the figure scripts/bench.sh takes on one
// broker), with RF 1 acks=all on the same leader alternating with it.
func BenchmarkReplicatedEndToEnd(b *testing.B) {
	secs := envInt(b, "BENCH_CLUSTER_E2E_SECONDS", 10)
	reps := envInt(b, "BENCH_CLUSTER_REPEAT", 3)
	bc := startCluster(b)
	ctrl, others := bc.layout(b)
	leader := others[0]
	replicas := map[int][]int32{1: {leader}, 3: {leader, others[1], ctrl}}
	log := benchLog{name: "BenchmarkReplicatedEndToEnd"}
	start := sampleCPU(bc)
	p99 := map[int][]float64{}
	p50 := map[int][]float64{}
	p999 := map[int][]float64{}
	cpu := map[int][]float64{}
	for rep := 1; rep <= reps; rep++ {
		order := []int{3, 1}
		if rep%2 == 0 {
			order = []int{1, 3}
		}
		for _, rf := range order {
			topic := fmt.Sprintf("bench-e2e-rf%d-%d", rf, rep)
			bc.createTopic(b, topic, replicas[rf], topicConfigs(rf))
			n := int64(e2eRate * secs)
			warm := warmMemory(b, int64(rf)*n*recordSize)
			summary := filepath.Join(b.TempDir(), "e2e.json")
			o := perftest.E2EOptions{Brokers: bc.seeds, Topic: topic, NumMessages: n, Acks: "all",
				MessageSize: recordSize, Throughput: e2eRate, Timeout: 30 * time.Second, SummaryJSON: summary}
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			var out, errOut bytes.Buffer
			before := sampleCPU(bc)
			err := perftest.RunE2E(ctx, o, &out, &errOut)
			use := before.until(sampleCPU(bc))
			cancel()
			if err != nil {
				b.Fatalf("end-to-end-latency on %s: %v\n%s%s", topic, err, lastLines(errOut.String(), 10), out.String())
			}
			data, err := os.ReadFile(summary)
			if err != nil {
				b.Fatal(err)
			}
			var s perftest.E2ESummary
			if err := json.Unmarshal(data, &s); err != nil {
				b.Fatalf("end-to-end summary %s: %v", summary, err)
			}
			bc.deleteTopic(b, topic)
			p99[rf] = append(p99[rf], s.P99Ms)
			p50[rf] = append(p50[rf], s.P50Ms)
			p999[rf] = append(p999[rf], s.P999Ms)
			per := use.perGiB(s.Records * recordSize)
			cpu[rf] = append(cpu[rf], per)
			ack := ""
			if s.Ack != nil {
				ack = fmt.Sprintf("; acknowledged p50 %.3f p99 %.3f ms", s.Ack.P50Ms, s.Ack.P99Ms)
			}
			line := fmt.Sprintf("run %d, RF %d acks=all: %d records, end-to-end p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms%s; brokers %.2f CPU-s (%s), %.1f per GiB; others %.2f CPU-s over %.1f s; memory warmed at %.0f MiB/s",
				rep, rf, s.Records, s.P50Ms, s.P99Ms, s.P999Ms, s.MaxMs, ack, use.brokers, byBroker(use), per, use.others, use.wall, warm)
			log.lines = append(log.lines, line)
			b.Log(line)
		}
	}
	log.load = start.until(sampleCPU(bc))
	rf3 := spreadOf(p99[3])
	report.addFigure(figure{order: orderE2ERF3, name: fmt.Sprintf("End-to-end p99 at 20 MiB/s, RF 3 acks=all, ms (p50 %.3f, p99.9 %.3f: medians)",
		spreadOf(p50[3]).median, spreadOf(p999[3]).median), value: rf3, prec: 3, cpu: spreadOf(cpu[3]), target: "<= 3 ms"})
	report.addFigure(figure{order: orderE2ERF1, name: fmt.Sprintf("End-to-end p99 at 20 MiB/s, RF 1 acks=all (same leader), ms (p50 %.3f, p99.9 %.3f)",
		spreadOf(p50[1]).median, spreadOf(p999[1]).median), value: spreadOf(p99[1]), prec: 3, cpu: spreadOf(cpu[1])})
	report.addBench(log)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rf3.median, "rf3-p99-ms")
	b.ReportMetric(spreadOf(p99[1]).median, "rf1-p99-ms")
	b.ReportMetric(spreadOf(cpu[3]).median, "rf3-cpu-s/GiB")
}
