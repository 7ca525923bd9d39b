// Outgoing mail over SMTP (libcurl) from one background thread, so a
// request never waits for a mail server and never reveals by its timing
// whether a message was sent.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "authd/mail_quota.h"
#include "authd/smtp_url.h"

namespace spa::authd {

// What the service needs of mail; tests pass a fake that keeps messages.
class MailSender {
 public:
  virtual ~MailSender() = default;
  // False when the message cannot be queued (the class's room is full).
  virtual bool send(const std::string& to, const std::string& subject, const std::string& body, MailClass cls) = 0;
};


class Mailer final : public MailSender {
 public:
  struct Options {
    int64_t timeout_s = 30;     // one attempt at most (connect included)
    int64_t retry_for_s = 600;  // transient failures are retried this long after queueing
    std::string username;       // the SMTP login ([smtp] username; empty: none)
    std::string password;       // read from [smtp] password_file
  };
  // `url` like smtp://127.0.0.1:25 (smtps:// for TLS); empty: mail is
  // dropped with a log line saying so.
  Mailer(std::string url, std::string from);
  Mailer(std::string url, std::string from, Options options);
  ~Mailer();
  Mailer(const Mailer&) = delete;
  Mailer& operator=(const Mailer&) = delete;

  // Queues a plain-text message; false when the queue is full. `to` must be
  // a validated address; nothing here may contain CR or LF but the body.
  // Each class has its own room in the queue (kRoom): a flood of codes or
  // notices never crowds out a reset link.
  bool send(const std::string& to, const std::string& subject, const std::string& body, MailClass cls) override;
  static constexpr size_t kRoom[kMailClasses] = {600, 300, 100};  // link, code, notice

  // What became of each attempt: spa_authd_mail_delivery_total{class,result}
  // with result sent, retried (a transient failure, tried again later) or
  // failed (refused for good, or still failing after retry_for).
  std::string metrics() const;

  // A failed attempt is worth retrying unless the server refused for
  // good: an SMTP 5xx (RFC 5321 §4.2.1). No connection, no answer in
  // time, a connection closed and a 4xx are transient.
  static bool transient(long smtp_code) { return smtp_code < 500; }
  // The wait before attempt `attempt + 1`: 1 s, doubling, at most a minute.
  static int64_t backoff_s(int attempt) { return std::min<int64_t>(int64_t{1} << std::min(attempt - 1, 6), 60); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Message {
    std::string to, subject, body;
    MailClass cls = MailClass::kLink;
    int attempts = 0;
    Clock::time_point queued_at{}, not_before{};
  };
  enum class Result { kSent, kRetry, kFailed };
  void run();
  Result deliver(const Message& m);

  std::string url_, from_;
  Options options_;
  uint64_t results_[kMailClasses][3] = {};  // under mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> queue_;
  size_t queued_[kMailClasses] = {};
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace spa::authd
