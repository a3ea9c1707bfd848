package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthCheckMethod is the standard gRPC health check.
const healthCheckMethod = "/grpc.health.v1.Health/Check"

// admissionReview is an empty-ish AdmissionReview, as kube-apiserver POSTs.
const admissionReview = `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",` +
	`"request":{"uid":"00000000-0000-0000-0000-000000000000","kind":{"group":"","version":"v1","kind":"Pod"},` +
	`"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","object":{}}}`

func rootPool(pemData []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, errors.New("no certificate in the CA file could be parsed")
	}
	return pool, nil
}

type webhookResult struct {
	OK          bool   `json:"ok"`
	Status      int    `json:"status"` // 0 when no answer came
	Body        string `json:"body"`
	ContentType string `json:"content_type"`
	Error       string `json:"error"` // as net/http formats it: Post "URL": ...
	// inner is the error under net/http's `Post "URL": ` wrapper.
	inner string
	// verifyFailed: inner is crypto/x509's verdict on the served chain.
	verifyFailed bool
}

// currentGoText is the result as the Go release kube-apiserver is built
// with prints it: since Go 1.20 crypto/tls wraps a verification failure as
// a CertificateVerificationError, `tls: failed to verify certificate: ` and
// x509's text. This peer is Go 1.19, whose client returns x509's error bare.
func (r webhookResult) currentGoText() webhookResult {
	if r.verifyFailed && !strings.HasPrefix(r.inner, "tls: failed to verify certificate: ") {
		r.Error = strings.TrimSuffix(r.Error, r.inner) + "tls: failed to verify certificate: " + r.inner
	}
	return r
}

// webhookRequest is one call of kube-apiserver's webhook client.
type webhookRequest struct {
	url        string
	roots      *x509.CertPool // nil: the system roots (a webhook without caBundle)
	serverName string
	method     string
	body       string        // POSTed as application/json; "" = the built-in AdmissionReview
	timeout    time.Duration // the request context's deadline, as the webhook's timeoutSeconds
	// dial, when set, is the address connected to for the URL's host: the
	// API server's service resolver (the URL names SERVICE.NAMESPACE.svc).
	dial string
	// dropped: the dial's SYNs go unanswered (a firewall drop).
	dropped bool
}

// webhookCall is kube-apiserver's webhook client: RootCAs = the caBundle,
// ServerName = the Service name, HTTP/2 off (TLSNextProto non-nil and empty),
// one POST of an AdmissionReview (or GET) under a context deadline (the
// dispatcher's context.WithTimeout of timeoutSeconds; no Client.Timeout).
func webhookCall(w webhookRequest) webhookResult {
	var dialer net.Dialer
	dialContext := dialer.DialContext
	if w.dial != "" || w.dropped {
		dialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if w.dial != "" {
				addr = w.dial
			}
			if w.dropped {
				return dropDial(ctx, &dialer, network, addr)
			}
			return dialer.DialContext(ctx, network, addr)
		}
	}
	tr := &http.Transport{
		DialContext:     dialContext,
		TLSClientConfig: &tls.Config{RootCAs: w.roots, ServerName: w.serverName},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	var body io.Reader
	if w.method == http.MethodPost {
		text := w.body
		if text == "" {
			text = admissionReview
		}
		body = strings.NewReader(text)
	}
	req, err := http.NewRequestWithContext(ctx, w.method, w.url, body)
	if err != nil {
		return webhookResult{Error: err.Error(), inner: err.Error()}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, */*")
	resp, err := client.Do(req)
	if err != nil {
		inner := err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			inner = ue.Err.Error()
		}
		var unknownAuthority x509.UnknownAuthorityError
		var hostname x509.HostnameError
		var invalid x509.CertificateInvalidError
		verifyFailed := errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid)
		return webhookResult{Error: err.Error(), inner: inner, verifyFailed: verifyFailed}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 3<<20))
	res := webhookResult{OK: true, Status: resp.StatusCode, Body: string(data), ContentType: resp.Header.Get("Content-Type")}
	if err != nil {
		res.OK, res.Error, res.inner = false, err.Error(), err.Error()
	}
	return res
}

// dropDial is a dial whose SYNs are dropped: nothing answers until the
// request's deadline. The socket's deadline is the context's, and it fires
// a moment before the context's own timer, so the dial reports its
// timeout (net's `dial tcp IP:PORT: i/o timeout`, the form the API server
// logs for a firewalled webhook) instead of the transport's `context
// deadline exceeded`. The error is net.Dialer's own, for a deadline that
// has passed.
func dropDial(ctx context.Context, dialer *net.Dialer, network, addr string) (net.Conn, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		<-ctx.Done()
		return dialer.DialContext(ctx, network, addr)
	}
	const ahead = 20 * time.Millisecond
	select {
	case <-time.After(time.Until(deadline) - ahead):
	case <-ctx.Done():
	}
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	return dialer.DialContext(expired, network, addr)
}

type grpcResult struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	ServingStatus string `json:"serving_status"`
	// reached: the status came from a gRPC server (OK or Unimplemented in
	// grpc-status), not from a transport or handshake failure, nor mapped
	// from an HTTP answer that was not gRPC.
	reached bool
}

// grpcCall is a grpc-go client with TLS credentials (RootCAs, ServerName),
// dialled without blocking so that the call's error carries the transport
// error, making one unary call of method (a health Check of "" by default).
func grpcCall(target string, roots *x509.CertPool, serverName, method string, timeout time.Duration) grpcResult {
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: serverName})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, target, grpc.WithTransportCredentials(creds))
	if err != nil {
		st := status.Convert(err)
		return grpcResult{Code: st.Code().String(), Message: st.Message()}
	}
	defer conn.Close()
	out := new(healthpb.HealthCheckResponse)
	err = conn.Invoke(ctx, method, &healthpb.HealthCheckRequest{Service: ""}, out)
	st := status.Convert(err)
	res := grpcResult{Code: st.Code().String(), Message: st.Message()}
	if err == nil && method == healthCheckMethod {
		res.ServingStatus = out.GetStatus().String()
	}
	res.reached = (st.Code() == codes.OK || st.Code() == codes.Unimplemented) && !fromHTTPAnswer(st.Message())
	return res
}

// fromHTTPAnswer: grpc-go made the status up from an HTTP/2 answer without
// grpc-status, e.g. Go's net/http 404 ("Not Found: HTTP status code 404;
// transport: received the unexpected content-type \"text/plain;
// charset=utf-8\"", as code Unimplemented).
func fromHTTPAnswer(msg string) bool {
	return strings.Contains(msg, "HTTP status code") ||
		strings.Contains(msg, "transport: received the unexpected content-type")
}

// grpcTransportError is the error text inside grpc-go's
// `connection error: desc = "..."` wrapper, unquoted.
func grpcTransportError(msg string) string {
	const marker = "desc = "
	if i := strings.LastIndex(msg, marker); i >= 0 {
		rest := msg[i+len(marker):]
		if s, err := strconv.Unquote(rest); err == nil {
			return s
		}
	}
	return msg
}

type verifyResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// verifyChain is crypto/x509 alone: the served chain (leaf first), the rest
// as intermediates, the bundle as roots, DNSName, EKU serverAuth.
func verifyChain(chainPEM, bundlePEM []byte, name string) verifyResult {
	ds, err := pemDERs(chainPEM)
	if err != nil {
		return verifyResult{Error: "chain: " + err.Error()}
	}
	var certs []*x509.Certificate
	for _, d := range ds {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return verifyResult{Error: err.Error()}
		}
		certs = append(certs, c)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundlePEM)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err = certs[0].Verify(x509.VerifyOptions{
		DNSName: name, Intermediates: inter, Roots: roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return verifyResult{Error: err.Error()}
	}
	return verifyResult{OK: true}
}

func readCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := rootPool(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return pool, nil
}
