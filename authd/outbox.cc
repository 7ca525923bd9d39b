#include "authd/outbox.h"

#include "authd/mailer.h"
#include "authd/server.h"

namespace spa::authd {

bool Outbox::room(MailClass cls, const std::string& address, const std::string& account, int64_t& retry_after) {
  auto d = quota_.take(cls, inbox_of(address), account, clock_());
  if (d.allowed) return true;
  retry_after = d.retry_after;
  quota_.count_drop(cls, d.reason);
  // Neither the address nor the account: a reason and a class.
  log_event("warn", "mail_limited", {{"class", mail_class_name(cls)}, {"reason", d.reason}});
  return false;
}

void Outbox::deliver(MailClass cls, const std::string& to, const std::string& subject, const std::string& body) {
  if (!sender_) return;
  if (sender_->send(to, subject, body, cls)) return quota_.count_sent(cls);
  quota_.count_drop(cls, "queue_full");
  log_event("warn", "mail_dropped", {{"class", mail_class_name(cls)}, {"reason", "queue_full"}});
}

std::string link_base(const Config& config) {
  return config.allowed_origins.empty() ? config.issuer : config.allowed_origins.front();
}

}  // namespace spa::authd
