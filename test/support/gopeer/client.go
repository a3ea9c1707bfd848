package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
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
	OK     bool   `json:"ok"`
	Status int    `json:"status"`
	Error  string `json:"error"`
	// inner is the error under net/http's `Post "URL": ` wrapper.
	inner string
}

// webhookCall is kube-apiserver's webhook client: RootCAs = the caBundle,
// ServerName = the Service name, HTTP/2 off (TLSNextProto non-nil and empty),
// a timeout, one POST of an AdmissionReview (or GET).
func webhookCall(rawURL string, roots *x509.CertPool, serverName, method string, timeout time.Duration) webhookResult {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout}
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(admissionReview)
	}
	req, err := http.NewRequest(method, rawURL, body)
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
		return webhookResult{Error: err.Error(), inner: inner}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return webhookResult{OK: true, Status: resp.StatusCode}
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
