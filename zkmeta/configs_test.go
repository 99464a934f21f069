package zkmeta

import (
	"encoding/json"
	"testing"
)

// TestDecodeChange reads both notification versions Kafka writes and
// rejects what it cannot place.
func TestDecodeChange(t *testing.T) {
	tests := []struct {
		data      string
		typ, name string
	}{
		{`{"version":2,"entity_path":"topics/t"}`, "topics", "t"},
		{`{"version":2,"entity_path":"brokers/<default>"}`, "brokers", "<default>"},
		{`{"version":2,"entity_path":"users/alice/clients/app"}`, "users", "alice/clients/app"},
		{`{"version":1,"entity_type":"topics","entity_name":"t"}`, "topics", "t"},
		{`{"version":2,"entity_path":"topics"}`, "", ""},
		{`{"version":3,"entity_path":"topics/t"}`, "", ""},
		{`not json`, "", ""},
	}
	for _, tc := range tests {
		typ, name := decodeChange([]byte(tc.data))
		if typ != tc.typ || name != tc.name {
			t.Errorf("%s: %q %q, want %q %q", tc.data, typ, name, tc.typ, tc.name)
		}
	}
}

// TestEntityConfigAndNotifications writes topic and broker configs as
// Kafka's AdminZkClient.changeEntityConfig does and reads back the
// znodes and notifications a Kafka broker would read.
func TestEntityConfigAndNotifications(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	conn := rawConn(t)
	if err := c.SetEntityConfig(ctx, ConfigTypeTopics, "t", map[string]string{"retention.ms": "1000"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEntityConfig(ctx, ConfigTypeBrokers, DefaultEntity, map[string]string{"log.retention.ms": "5"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEntityConfig(ctx, ConfigTypeTopics, "t", map[string]string{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want map[string]string
	}{
		{"/config/topics/t", map[string]string{}},
		{"/config/brokers/<default>", map[string]string{"log.retention.ms": "5"}},
	} {
		data, _ := rawGet(t, conn, chroot+tc.path)
		var v struct {
			Version int               `json:"version"`
			Config  map[string]string `json:"config"`
		}
		if err := json.Unmarshal(data, &v); err != nil || v.Version != 1 || v.Config == nil || len(v.Config) != len(tc.want) {
			t.Errorf("%s: %s", tc.path, data)
		}
		for k, val := range tc.want {
			if v.Config[k] != val {
				t.Errorf("%s: %s", tc.path, data)
			}
		}
	}
	changes, _, err := c.ConfigChanges(ctx, -1)
	if err != nil || len(changes) != 3 {
		t.Fatalf("changes: %v %+v", err, changes)
	}
	want := []string{"topics/t", "brokers/<default>", "topics/t"}
	for i, ch := range changes {
		if ch.EntityType+"/"+ch.EntityName != want[i] || (i > 0 && ch.Seq <= changes[i-1].Seq) {
			t.Errorf("change %d: %+v", i, ch)
		}
		data, _ := rawGet(t, conn, chroot+"/config/changes/"+ch.Name)
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil || v["version"] != float64(2) || v["entity_path"] != want[i] || len(v) != 2 {
			t.Errorf("%s: %s", ch.Name, data)
		}
	}
	if later, _, err := c.ConfigChanges(ctx, changes[1].Seq); err != nil || len(later) != 1 {
		t.Errorf("after %d: %v %+v", changes[1].Seq, err, later)
	}
	if err := c.DeleteConfigChange(ctx, changes[0].Name); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteConfigChange(ctx, changes[0].Name); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if cfg, err := c.EntityConfig(ctx, ConfigTypeBrokers, "3"); err != nil || len(cfg) != 0 {
		t.Errorf("missing entity: %v %v", cfg, err)
	}
	if err := c.SetEntityConfig(ctx, ConfigTypeBrokers, "../x", nil); err == nil {
		t.Error("a broker entity that is a path was accepted")
	}
}
