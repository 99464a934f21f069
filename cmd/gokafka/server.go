package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gokafka/gokafka/broker"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// runServer starts a broker from a server.properties file:
//
//	gokafka server <server.properties> [--override key=value ...]
//
// as kafka-server-start.sh does (--override=key=value works too), with
// KAFKA_CFG_ environment variables between the file and the overrides
// (broker.LoadConfig). It logs to stderr in a human-readable form, stops
// cleanly on SIGINT or SIGTERM, and exits non-zero with the error logged
// when the broker cannot start.
func runServer(args []string) int {
	path, overrides, err := parseServerArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gokafka server: %v\n", err)
		usage(os.Stderr)
		return 2
	}
	logger, err := newLogger()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gokafka server: logger: %v\n", err)
		return 1
	}
	defer logger.Sync()

	cfg, err := broker.LoadConfig(path, overrides, logger)
	if err != nil {
		logger.Error("invalid configuration", zap.String("file", path), zap.Error(err))
		return 1
	}
	srv, err := broker.New(cfg, logger)
	if err != nil {
		logger.Error("invalid configuration", zap.Error(err))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if addr := cfg.AdminListener(); addr != "" {
		if _, err := broker.StartAdmin(ctx, addr, logger); err != nil {
			logger.Error("cannot start the admin listener", zap.Error(err))
			return 1
		}
	}
	if err := srv.Run(ctx); err != nil {
		logger.Error("broker failed", zap.Error(err))
		return 1
	}
	logger.Info("stopped")
	return 0
}

// parseServerArgs splits the arguments into the properties path and the
// "key=value" overrides.
func parseServerArgs(args []string) (string, []string, error) {
	var path string
	var overrides []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--override" || a == "-override":
			if i+1 >= len(args) {
				return "", nil, errors.New("--override needs key=value")
			}
			i++
			overrides = append(overrides, args[i])
		case strings.HasPrefix(a, "--override="):
			overrides = append(overrides, strings.TrimPrefix(a, "--override="))
		case strings.HasPrefix(a, "-"):
			return "", nil, fmt.Errorf("unknown flag %s", a)
		case path == "":
			path = a
		default:
			return "", nil, fmt.Errorf("unexpected argument %q", a)
		}
	}
	if path == "" {
		return "", nil, errors.New("missing server.properties path")
	}
	for _, o := range overrides {
		if k, _, ok := strings.Cut(o, "="); !ok || strings.TrimSpace(k) == "" {
			return "", nil, fmt.Errorf("override %q: want key=value", o)
		}
	}
	return path, overrides, nil
}

// newLogger is zap's production logger with a console encoder and
// ISO-8601 timestamps, writing to stderr.
func newLogger() (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	cfg.Encoding = "console"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	cfg.Sampling = nil
	cfg.DisableStacktrace = true
	return cfg.Build()
}
