#include "authd/mailer.h"


#include <curl/curl.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "authd/crypto.h"
#include "authd/curl_handles.h"
#include "authd/server.h"

namespace spa::authd {
namespace {


bool header_safe(const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; }

std::string rfc5322_date() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

struct Upload {
  std::string data;
  size_t offset = 0;
};

size_t read_upload(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* u = static_cast<Upload*>(userdata);
  size_t n = std::min(size * nitems, u->data.size() - u->offset);
  std::memcpy(buffer, u->data.data() + u->offset, n);
  u->offset += n;
  return n;
}

}  // namespace

Mailer::Mailer(std::string url, std::string from) : Mailer(std::move(url), std::move(from), Options{}) {}

Mailer::Mailer(std::string url, std::string from, Options options)
    : url_(std::move(url)), from_(std::move(from)), options_(options) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  worker_ = std::thread([this] { run(); });
}

Mailer::~Mailer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

bool Mailer::send(const std::string& to, const std::string& subject, const std::string& body, MailClass cls) {
  if (!header_safe(to) || !header_safe(subject)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  size_t c = static_cast<size_t>(cls);
  if (queued_[c] >= kRoom[c]) return false;
  ++queued_[c];
  Message m{to, subject, body, cls};
  m.queued_at = m.not_before = Clock::now();
  queue_.push_back(std::move(m));
  cv_.notify_one();
  return true;
}

// One thread, oldest first; a message waiting for its retry lets the
// messages behind it go. A retried message keeps its room in the queue.
void Mailer::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto now = Clock::now();
    auto due = std::find_if(queue_.begin(), queue_.end(), [&](const Message& m) { return m.not_before <= now; });
    if (due == queue_.end()) {
      if (stopping_) {
        // Fresh messages went out above; those waiting for a retry are
        // not worth holding the shutdown for.
        if (!queue_.empty())
          log_event("warn", "mail_not_sent", {{"reason", "stopping with messages waiting for a retry"},
                                              {"count", std::to_string(queue_.size())}});
        return;
      }
      if (queue_.empty()) {
        cv_.wait(lock);
      } else {
        auto next = std::min_element(queue_.begin(), queue_.end(), [](const Message& a, const Message& b) {
                      return a.not_before < b.not_before;
                    })->not_before;
        cv_.wait_until(lock, next);
      }
      continue;
    }
    if (stopping_ && due->attempts > 0) {  // a retry: not while stopping
      due->not_before = Clock::time_point::max();
      continue;
    }
    Message m = std::move(*due);
    queue_.erase(due);
    lock.unlock();
    ++m.attempts;
    Result r = deliver(m);
    int64_t wait = backoff_s(m.attempts);
    bool retry = r == Result::kRetry &&
                 Clock::now() + std::chrono::seconds(wait) <= m.queued_at + std::chrono::seconds(options_.retry_for_s);
    // The address, the subject and the body stay out of the log: they
    // hold a reset link or a code.
    if (r == Result::kRetry && retry)
      log_event("warn", "mail_retry", {{"class", mail_class_name(m.cls)}, {"attempt", std::to_string(m.attempts)},
                                       {"retry_in", std::to_string(wait) + "s"}});
    else if (r == Result::kRetry)
      log_event("error", "mail_given_up", {{"class", mail_class_name(m.cls)}, {"attempts", std::to_string(m.attempts)}});
    lock.lock();
    size_t c = static_cast<size_t>(m.cls);
    if (r == Result::kSent) {
      ++results_[c][0];
    } else if (retry) {
      ++results_[c][1];
      m.not_before = Clock::now() + std::chrono::seconds(wait);
      queue_.push_back(std::move(m));
      continue;
    } else {
      ++results_[c][2];
    }
    --queued_[c];
  }
}

std::string Mailer::metrics() const {
  static constexpr const char* kResults[3] = {"sent", "retried", "failed"};
  std::string out = "# TYPE spa_authd_mail_delivery_total counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t c = 0; c < kMailClasses; ++c)
    for (size_t r = 0; r < 3; ++r)
      out += std::string("spa_authd_mail_delivery_total{class=\"") + mail_class_name(static_cast<MailClass>(c)) +
             "\",result=\"" + kResults[r] + "\"} " + std::to_string(results_[c][r]) + "\n";
  return out;
}

Mailer::Result Mailer::deliver(const Message& m) {
  if (url_.empty()) {
    log_event("warn", "mail_not_sent", {{"reason", "[smtp] url is not set"}});
    return Result::kFailed;
  }
  CurlPtr curl(curl_easy_init());
  SlistPtr rcpt(curl_slist_append(nullptr, ("<" + m.to + ">").c_str()));
  if (!curl || !rcpt) return Result::kRetry;
  Upload upload;
  upload.data = "Date: " + rfc5322_date() + "\r\nFrom: " + from_ + "\r\nTo: " + m.to + "\r\nSubject: " + m.subject +
                "\r\nMessage-ID: <" + random_hex_id() + "@spa-authd>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n" + m.body + "\r\n";
  std::string mail_from = "<" + from_ + ">";
  curl_easy_setopt(curl.get(), CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(curl.get(), CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::min<int64_t>(options_.timeout_s, 10)));
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, static_cast<long>(options_.timeout_s));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  // smtp:// beyond this machine: STARTTLS or nothing (a reset link, and
  // the password, never cross a network in clear).
  if (smtp_needs_starttls(url_)) curl_easy_setopt(curl.get(), CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!options_.username.empty()) {
    curl_easy_setopt(curl.get(), CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PASSWORD, options_.password.c_str());
  }
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
    bool again = transient(code);
    // The address and body stay out of the log: they hold a reset link.
    // curl's text names the step ("RCPT failed: 550"), never the address.
    log_event(again ? "warn" : "error", "mail_failed",
              {{"reason", curl_easy_strerror(rc)}, {"smtp_code", std::to_string(code)},
               {"class", mail_class_name(m.cls)}, {"attempt", std::to_string(m.attempts)},
               {"transient", again ? "yes" : "no"}});
    return again ? Result::kRetry : Result::kFailed;
  }
  log_event("info", "mail_sent", {{"class", mail_class_name(m.cls)}, {"attempt", std::to_string(m.attempts)}});
  return Result::kSent;
}

}  // namespace spa::authd
