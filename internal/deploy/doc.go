// Package deploy checks the repository's deployment files, which no test
// can run here (the machines that run the tests have no Docker engine):
// docker-compose.yml is parsed and held against the broker's own
// configuration loader, and the Dockerfile against the layout the compose
// file assumes, so that neither rots silently when the broker changes.
//
// The package has no code of its own; its tests are the checks.
package deploy
