// Command meshprobe is the workload of meshready's proxyless gRPC mesh
// checks (package mesh/probe), run in pods that Istio injects with its
// grpc-agent template:
//
//	meshprobe serve  -addr :7070 -version v1 [-plain] [-control-addr :7071]
//	meshprobe client -target xds:///echo.demo.svc.cluster.local:7070 -listen :8080
//	meshprobe client -watch xds:///meshprobe-echo.demo.svc.cluster.local:7070 -listen :8080 -rate 100
//
// With -plain (and dns:/// targets) the same probe runs behind Envoy
// sidecars instead. A client has one xDS target: pilot-agent proxies a single xDS stream per
// pod, and gRPC opens one per target, so two targets in one pod would keep
// closing each other's stream.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/meshready/meshready/mesh/probe/grpcprobe"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], log); err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, log *slog.Logger) (err error) {
	if len(args) == 0 {
		return errors.New("usage: meshprobe serve|client [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case "serve":
		addr := fs.String("addr", ":7070", "gRPC listen address")
		version := fs.String("version", "", "the version label this server answers with")
		plain := fs.Bool("plain", false, "a plain gRPC server, no xDS (behind an Envoy sidecar)")
		control := fs.String("control-addr", "", "also answer plaintext gRPC here, out of the mesh (the plaintext check's positive control)")
		drain := fs.Duration("drain", 0, "on SIGTERM keep serving this long before stopping, while the clients' xDS drop this endpoint "+
			"(Kubernetes removes it as it signals the pod: stopping at once fails the calls still sent here)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *drain > 0 {
			signalled := ctx
			var stopServing context.CancelFunc
			ctx, stopServing = context.WithCancel(context.WithoutCancel(signalled))
			defer stopServing()
			go func() {
				<-signalled.Done()
				log.Info("stopping: serving while the endpoint is dropped", "drain", drain.String())
				time.Sleep(*drain)
				stopServing()
			}()
		}
		if *version == "" {
			return errors.New("serve: -version is required")
		}
		host, _ := os.Hostname()
		errs := make(chan error, 2)
		if *control != "" {
			go func() { errs <- grpcprobe.ServePlain(ctx, *control, *version, host) }()
		}
		go func() {
			if *plain {
				errs <- grpcprobe.ServePlain(ctx, *addr, *version, host)
				return
			}
			errs <- grpcprobe.Serve(ctx, *addr, *version, host, log)
		}()
		return <-errs
	case "client":
		target := fs.String("target", "", "xds:///<service>.<namespace>.svc.cluster.local:<port> (proxyless) or dns:///… (behind a sidecar), called on demand (/count)")
		watch := fs.String("watch", "", "the target called all the time at -rate (/samples), xds:/// or dns:/// as -target")
		listen := fs.String("listen", ":8080", "HTTP API address")
		rate := fs.Int("rate", 100, "background calls per second")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if (*target == "") == (*watch == "") || *rate < 1 {
			return errors.New("client: one of -target or -watch, and a positive -rate, are required")
		}
		var counter, watcher *grpcprobe.Client
		if *target != "" {
			if counter, err = grpcprobe.NewClient(*target, log); err != nil {
				return err
			}
			defer counter.Close()
		} else {
			if watcher, err = grpcprobe.NewClient(*watch, log); err != nil {
				return err
			}
			defer watcher.Close()
			go watcher.Run(ctx, *rate)
		}
		srv := &http.Server{Addr: *listen, Handler: grpcprobe.Handler(counter, watcher), ReadHeaderTimeout: 10 * time.Second}
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown command %q: serve or client", args[0])
}
