//go:build !linux && !darwin

package broker

// volumeBytes reports the volume's sizes as unknown (-1) where gokafka
// does not read them.
func volumeBytes(string) (total, usable int64) { return -1, -1 }
