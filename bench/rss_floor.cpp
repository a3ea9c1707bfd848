// The floor under the agent's idle RSS: a process that links the same
// OpenSSL, makes one TLS client context and connection object (as any TLS
// prober must), and then waits. bench/run.sh reads its RSS next to the
// agent's; the difference is what meshprobe itself adds.
//
// Built twice: plain, and with RSS_FLOOR_CXX, where it also puts the C++
// standard library to the use any C++ program makes of it (a string, an
// exception, a stream), which maps and initialises libstdc++.
#include <openssl/ssl.h>

#include <unistd.h>

#include <cstdio>

#ifdef RSS_FLOOR_CXX
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#endif

int main(int argc, char**) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_default_verify_paths(context);
  SSL* connection = SSL_new(context);
#ifdef RSS_FLOOR_CXX
  std::string word = "ready";
  try {
    if (argc > 0) throw std::runtime_error(word);
  } catch (const std::exception& e) {
    std::ostringstream line;
    line << e.what();
    std::cout << line.str() << std::endl;
  }
#else
  (void)argc;
  std::puts("ready");
  std::fflush(stdout);
#endif
  ::pause();  // until bench/run.sh kills it
  SSL_free(connection);
  SSL_CTX_free(context);
}
