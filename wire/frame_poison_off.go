//go:build !race && !framepoison

package wire

// poisonReleasedFrames is off in release builds: filling every released
// frame would cost a memset per request for no user-visible gain.
const poisonReleasedFrames = false
