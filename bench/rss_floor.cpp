// The floor under the agent's idle RSS: a process that links the same
// OpenSSL, makes one TLS client context and connection object (as any TLS
// prober must), and then waits. bench/run.sh reads its RSS next to the
// agent's; the difference is what meshprobe itself adds.
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstdio>

int main() {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_default_verify_paths(context);
  SSL* connection = SSL_new(context);
  std::puts("ready");
  std::fflush(stdout);
  ::pause();  // until bench/run.sh kills it
  SSL_free(connection);
  SSL_CTX_free(context);
}
