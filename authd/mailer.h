// Outgoing mail over SMTP (libcurl) from one background thread, so a
// request never waits for a mail server and never reveals by its timing
// whether a message was sent.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "authd/mail_quota.h"

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
  // `url` like smtp://127.0.0.1:25 (smtps:// for TLS); empty: mail is
  // dropped with a log line saying so.
  Mailer(std::string url, std::string from);
  ~Mailer();
  Mailer(const Mailer&) = delete;
  Mailer& operator=(const Mailer&) = delete;

  // Queues a plain-text message; false when the queue is full. `to` must be
  // a validated address; nothing here may contain CR or LF but the body.
  // Each class has its own room in the queue (kRoom): a flood of codes or
  // notices never crowds out a reset link.
  bool send(const std::string& to, const std::string& subject, const std::string& body, MailClass cls) override;
  static constexpr size_t kRoom[kMailClasses] = {600, 300, 100};  // link, code, notice

 private:
  struct Message {
    std::string to, subject, body;
    MailClass cls = MailClass::kLink;
  };
  void run();
  bool deliver(const Message& m);

  std::string url_, from_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> queue_;
  size_t queued_[kMailClasses] = {};
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace spa::authd
