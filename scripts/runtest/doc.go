// Package runtest holds the end-to-end test of `make run`: the whole stack
// started as a newcomer starts it, checked through caddy over HTTP and HTTPS,
// and stopped with SIGINT. It has no code outside its test.
package runtest
