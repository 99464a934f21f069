package testcluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// probeTimeout bounds one readiness probe (dial and two round trips).
const probeTimeout = 5 * time.Second

// maxProbeResponse bounds a probe answer; a broker that claims more is
// broken, not slow.
const maxProbeResponse = 16 << 20

// probe checks that the broker at addr serves: ApiVersions v0 succeeds, and
// Metadata v1 lists broker id and names a controller (Kafka's admin tools wait
// for a controller before creating topics).
func probe(ctx context.Context, addr string, id int32) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}

	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 0
	avResp := kmsg.NewPtrApiVersionsResponse()
	avResp.Version = 0
	if err := roundTrip(conn, 1, av, avResp); err != nil {
		return fmt.Errorf("ApiVersions: %w", err)
	}
	if err := kerr.ErrorForCode(avResp.ErrorCode); err != nil {
		return fmt.Errorf("ApiVersions: %w", err)
	}

	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1
	md.Topics = []kmsg.MetadataRequestTopic{} // v1: empty list = no topics
	mdResp := kmsg.NewPtrMetadataResponse()
	mdResp.Version = 1
	if err := roundTrip(conn, 2, md, mdResp); err != nil {
		return fmt.Errorf("Metadata: %w", err)
	}
	if mdResp.ControllerID < 0 {
		return fmt.Errorf("metadata names no controller: %w", errNotReady)
	}
	for _, b := range mdResp.Brokers {
		if b.NodeID == id {
			return nil
		}
	}
	return fmt.Errorf("broker %d not in its own metadata: %w", id, errNotReady)
}

// roundTrip sends req with a v1 request header and reads a v0 response
// header; it only serves non-flexible versions, which is all the probe uses.
func roundTrip(conn net.Conn, corr int32, req kmsg.Request, resp kmsg.Response) error {
	body := req.AppendTo(nil)
	clientID := "testcluster-probe"
	hdr := make([]byte, 0, 4+2+2+4+2+len(clientID))
	hdr = binary.BigEndian.AppendUint32(hdr, 0) // size, filled below
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(req.Key()))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(req.GetVersion()))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(corr))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(clientID)))
	hdr = append(hdr, clientID...)
	frame := append(hdr, body...)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	if _, err := conn.Write(frame); err != nil {
		return err
	}
	var sizeBuf [4]byte
	if _, err := io.ReadFull(conn, sizeBuf[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(sizeBuf[:])
	if size < 4 || size > maxProbeResponse {
		return fmt.Errorf("response size %d out of range", size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	if got := int32(binary.BigEndian.Uint32(buf)); got != corr {
		return fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	if err := resp.ReadFrom(buf[4:]); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}
