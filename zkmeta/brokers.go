package zkmeta

import "context"

// Endpoint is one listener of a broker.
type Endpoint struct {
	Name             string // listener name, e.g. PLAINTEXT
	SecurityProtocol string // e.g. PLAINTEXT
	Host             string
	Port             int32
}

// BrokerInfo is /brokers/ids/<id>: Kafka's v5 JSON
// {"listener_security_protocol_map":{...},"endpoints":["PLAINTEXT://h:p"],
// "jmx_port":-1,"features":{},"host":"h","timestamp":"...","port":p,
// "version":5,"rack":null}.
type BrokerInfo struct {
	ID        int32
	Endpoints []Endpoint
	Rack      *string
	// Epoch is the czxid of the broker's znode (Kafka's broker epoch); set
	// by Brokers, ignored by RegisterBroker.
	Epoch int64
}

// RegisterBroker creates the ephemeral /brokers/ids/<id>. If the znode
// exists and belongs to this session it succeeds; if another session owns it
// it returns ErrBrokerIDInUse. The registration is made again after every
// new session.
func (c *Client) RegisterBroker(ctx context.Context, b BrokerInfo) error { panic("not implemented") }

// Brokers lists the registered brokers, sorted by id.
func (c *Client) Brokers(ctx context.Context) ([]BrokerInfo, error) { panic("not implemented") }
