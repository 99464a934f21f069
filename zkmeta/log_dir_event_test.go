package zkmeta

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNotifyLogDirFailure checks the notification Kafka's controller reads:
// a sequential child log_dir_event_<10 digits> of
// /log_dir_event_notification holding {"version":1,"broker":<id>,"event":1},
// one per failure.
func TestNotifyLogDirFailure(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	for range 2 {
		if err := c.NotifyLogDirFailure(ctx, 7); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawConn(t)
	kids, _, err := raw.Children(chroot + logDirEventPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 2 {
		t.Fatalf("%d notifications %v, want 2", len(kids), kids)
	}
	for _, k := range kids {
		seq, ok := strings.CutPrefix(k, logDirEventPrefix)
		if !ok || len(seq) != 10 {
			t.Fatalf("notification named %q, want %s<10 digits>", k, logDirEventPrefix)
		}
		data, _ := rawGet(t, raw, chroot+logDirEventPath+"/"+k)
		var v map[string]int
		if err := json.Unmarshal(data, &v); err != nil || len(v) != 3 || v["version"] != 1 || v["broker"] != 7 || v["event"] != 1 {
			t.Fatalf("notification %s holds %s, want {\"version\":1,\"broker\":7,\"event\":1}", k, data)
		}
	}
}
