//go:build race || framepoison

package wire

// poisonReleasedFrames is on in race builds (the unit tests of make test)
// and with the framepoison tag (the binary the end-to-end tests run).
const poisonReleasedFrames = true
