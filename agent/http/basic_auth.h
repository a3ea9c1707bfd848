// Basic auth for the endpoint (RFC 7617), private to the http room: the
// `Authorization` header checked against the web config's bcrypt hashes.
//
// bcrypt runs on one worker thread, never on the event loop: each wrong
// password costs tens of milliseconds by design, and a client trying many
// must not delay probes (whose timing the agent measures). A password that
// matched is remembered (as a SHA-256 digest) until the users change, so a
// scraper's steady requests cost one bcrypt in all.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace meshprobe {

class BasicAuth {
 public:
  using Users = std::map<std::string, std::string, std::less<>>;  // name -> bcrypt hash

  // The users from now on; empty: no authentication. Forgets every
  // remembered password, and starts the worker the first time there are
  // users. Checks already under way finish against the users they started
  // with, and what they find is not remembered.
  void set_users(const Users& users);

  // Whether a request with this `Authorization` header value (empty: none)
  // may be served: always when there are no users, else when it names a
  // user and that user's password. Runs on the event loop; the bcrypt, when
  // one is needed, on the worker.
  boost::asio::awaitable<bool> allows(std::string_view authorization);

  // Waits for the checks queued on the worker to finish and hand their
  // answers back to the event loop. For when the server stops: no check may
  // be asked for after this.
  void stop();

 private:
  std::shared_ptr<const Users> users_ = std::make_shared<const Users>();
  // Digests of user and password pairs that matched, for users_ as it is.
  std::set<std::string> remembered_passwords_;
  std::optional<boost::asio::thread_pool> password_checker_;  // once there are users
};

}  // namespace meshprobe
