package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// servingCert is the chain as served, without Go parsing the leaf: the
// matrix serves certificates Go itself cannot parse (tls.X509KeyPair would
// refuse them). The handshake is signed with key.
func servingCert(chain [][]byte, key crypto.Signer) tls.Certificate {
	return tls.Certificate{Certificate: chain, PrivateKey: key}
}

func loadServingCert(certFile, keyFile string) (tls.Certificate, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	chain, err := pemDERs(data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %v", certFile, err)
	}
	key, err := loadKeyFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return servingCert(chain, key), nil
}

func serverTLSConfig(cert tls.Certificate, spec serverSpec) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   spec.minVersion,
		MaxVersion:   spec.maxVersion,
		CipherSuites: spec.cipherSuites,
	}
}

// newHTTPSServer is istiod's webhook server in miniature: net/http over TLS
// with HTTP/2 on. /ready answers 200 "ok"; anything else is Go's default 404.
// With a restricted suite list HTTP/2 is off: net/http refuses to enable it
// without an HTTP/2-approved suite, and the webhook client speaks HTTP/1.1
// anyway.
func newHTTPSServer(cfg *tls.Config, spec serverSpec, errorLog *log.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/", http.NotFound)
	srv := &http.Server{Handler: mux, TLSConfig: cfg, ErrorLog: errorLog, ReadHeaderTimeout: 10 * time.Second}
	if len(spec.cipherSuites) > 0 {
		cfg.NextProtos = []string{"http/1.1"}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	} else {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	return srv
}

// newGRPCServer is a grpc-go server with TLS credentials; health is
// "serving", "not-serving" or "none" (no service at all: a Health/Check call
// gets UNIMPLEMENTED, as on istiod's xDS port).
func newGRPCServer(cfg *tls.Config, healthMode string) (*grpc.Server, error) {
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	switch healthMode {
	case "none":
	case "serving", "not-serving":
		h := health.NewServer()
		st := healthpb.HealthCheckResponse_SERVING
		if healthMode == "not-serving" {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		h.SetServingStatus("", st)
		healthpb.RegisterHealthServer(srv, h)
	default:
		return nil, fmt.Errorf("--health must be serving, not-serving or none, not %q", healthMode)
	}
	return srv, nil
}

// announce writes the bound address to portFile (atomically) and stdout.
func announce(addr net.Addr, portFile string) error {
	text := addr.String()
	if portFile != "" {
		if err := writeFileAtomic(portFile, []byte(text+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Println(text)
	return nil
}

// startOpenSSLServer runs `openssl s_server` on a free loopback port with
// the case's chain (leaf only) and key, and returns its address once it
// accepts connections.
func startOpenSSLServer(dir string, args []string) (addr string, stop func(), err error) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		return "", nil, errSkip{"openssl is not installed (the case needs openssl s_server)"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr = "127.0.0.1:" + strconv.Itoa(port)
	full := append([]string{"s_server", "-accept", addr, "-cert", filepath.Join(dir, "chain.pem"),
		"-key", filepath.Join(dir, "key.pem"), "-www", "-quiet"}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Stdout = io.Discard
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return "", nil, fmt.Errorf("openssl s_server exited: %s", stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return addr, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, errors.New("openssl s_server did not start listening")
}

type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b) < 64<<10 {
		l.b = append(l.b, p...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

// serveUntilSignal runs serve in the background and returns when it fails
// (exit 1) or on SIGTERM/SIGINT (exit 0).
func serveUntilSignal(serve func() error, shutdown func(context.Context)) int {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	sig := notifySignals()
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer: serve:", err)
		return 1
	case <-sig:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		shutdown(ctx)
		return 0
	}
}
