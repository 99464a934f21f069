package main

// runServer starts a broker from a server.properties file.
func runServer(args []string) int {
	panic("runServer: not implemented")
}
