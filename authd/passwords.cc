#include "authd/passwords.h"

#include <argon2.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "authd/crypto.h"
#include "authd/server.h"

namespace spa::authd {
namespace {

constexpr uint32_t kSaltBytes = 16, kHashBytes = 32;

// The most common passwords of 8 or more characters in public breach
// corpora; shorter ones are refused by length already.
constexpr std::array<std::string_view, 60> kCommon = {
    "password", "12345678", "123456789", "1234567890", "qwertyuiop", "11111111", "iloveyou", "password1",
    "password123", "qwerty123", "qwerty12", "1q2w3e4r", "1qaz2wsx", "zaq12wsx", "abcd1234", "abc12345",
    "welcome1", "welcome123", "sunshine", "princess", "football", "baseball", "starwars", "trustno1",
    "superman", "passw0rd", "p@ssw0rd", "p@ssword", "letmein1", "admin123", "administrator", "changeme",
    "12341234", "87654321", "00000000", "99999999", "88888888", "12121212", "123123123", "987654321",
    "qwertyui", "asdfghjkl", "zxcvbnm1", "iloveyou1", "sunshine1", "football1", "monkey123", "dragon123",
    "master123", "shadow123", "michael1", "jennifer", "computer", "whatever", "mustang1", "password!",
    "aa123456", "a1234567", "qazwsxedc", "1q2w3e4r5t",
};

size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xc0) != 0x80; }));
}

// CPUs this process may run on (taskset, systemd's CPUAffinity), not the
// machine's: one Argon2 computation each.
size_t cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return static_cast<size_t>(std::clamp(n, 1, 256));
}

}  // namespace

// One thread per slot. At nice 10 a burst of sign-ins uses the idle CPU,
// and a quick request (a nice-0 HTTP thread) still gets a core at once
// when it needs one.
class PasswordHasher::Workers {
 public:
  explicit Workers(size_t n) {
    for (size_t i = 0; i < n; ++i) threads_.emplace_back([this] { serve(); });
  }
  ~Workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    work_.notify_all();
    for (auto& t : threads_) t.join();
  }
  size_t size() const { return threads_.size(); }

  // Runs `work` on a worker and waits for it; the caller holds a slot, so
  // a worker is free (or about to be).
  void run(const std::function<void()>& work) {
    Job job;
    job.work = &work;
    std::unique_lock<std::mutex> lock(mu_);
    jobs_.push_back(&job);
    work_.notify_one();
    done_.wait(lock, [&] { return job.done; });
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  struct Job {
    const std::function<void()>* work = nullptr;
    bool done = false;
    std::exception_ptr error;
  };

  void serve() {
    // Linux: the nice value is per thread. Raising it needs no privilege.
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10) != 0)
      log_event("warn", "argon2_priority_not_lowered", {{"reason", std::strerror(errno)}});
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping
      Job* job = jobs_.front();
      jobs_.pop_front();
      lock.unlock();
      try {
        (*job->work)();
      } catch (...) {
        job->error = std::current_exception();
      }
      lock.lock();
      job->done = true;
      done_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_, done_;
  std::deque<Job*> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

PasswordHasher::PasswordHasher(uint32_t memory_kib, uint32_t iterations, uint32_t parallelism, Queue queue)
    : memory_kib_(memory_kib),
      iterations_(iterations),
      parallelism_(parallelism),
      workers_(std::make_unique<Workers>(cpus())),
      gate_({workers_->size(), queue.waiting, queue.max_wait_ms}) {
  auto dummy = hash(random_token());  // nobody else is queued yet: never shed
  if (!dummy) throw std::runtime_error("argon2: no slot for the dummy hash");
  dummy_ = *dummy;
}

PasswordHasher::PasswordHasher(uint32_t memory_kib, uint32_t iterations, uint32_t parallelism)
    : PasswordHasher(memory_kib, iterations, parallelism, Queue{}) {}

PasswordHasher::~PasswordHasher() = default;

bool PasswordHasher::run(const std::function<void()>& work) const {
  Gate::Pass pass = gate_.enter();
  if (!pass) return false;
  workers_->run(work);
  return true;
}

std::optional<std::string> PasswordHasher::hash(std::string_view password) const {
  std::string encoded;
  bool ran = run([&] {
    std::string salt = random_bytes(kSaltBytes);
    size_t len = argon2_encodedlen(iterations_, memory_kib_, parallelism_, kSaltBytes, kHashBytes, Argon2_id);
    encoded.assign(len, '\0');
    int rc = argon2id_hash_encoded(iterations_, memory_kib_, parallelism_, password.data(), password.size(),
                                   salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
    if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2: ") + argon2_error_message(rc));
    encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  });
  if (!ran) return std::nullopt;
  return encoded;
}

std::optional<bool> PasswordHasher::verify(std::string_view phc, std::string_view password) const {
  std::string encoded(phc);  // argon2 wants a NUL-terminated string
  bool match = false;
  if (!run([&] { match = argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK; }))
    return std::nullopt;
  return match;
}

bool PasswordHasher::verify_dummy(std::string_view password) const { return verify(dummy_, password).has_value(); }

size_t PasswordHasher::max_callers() const { return gate_.limits().running + gate_.limits().waiting; }

std::string PasswordHasher::metrics() const {
  return "# TYPE spa_authd_argon2_running gauge\nspa_authd_argon2_running " + std::to_string(gate_.running()) +
         "\n# TYPE spa_authd_argon2_waiting gauge\nspa_authd_argon2_waiting " + std::to_string(gate_.waiting()) +
         "\n# TYPE spa_authd_argon2_shed_total counter\nspa_authd_argon2_shed_total " + std::to_string(gate_.shed()) +
         "\n";
}

std::string fold(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::optional<std::string> password_problem(std::string_view password, std::string_view email,
                                            std::string_view username) {
  size_t n = code_points(password);
  if (n < 8) return "password must be at least 8 characters";
  if (n > 128 || password.size() > 512) return "password must be at most 128 characters";
  std::string folded = fold(password);
  if (std::find(kCommon.begin(), kCommon.end(), folded) != kCommon.end())
    return "password is too common";
  if (folded == fold(email) || folded == fold(username)) return "password must differ from e-mail and username";
  return std::nullopt;
}

bool valid_email(std::string_view email) {
  if (email.size() < 3 || email.size() > 254) return false;
  size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || email.find('@', at + 1) != std::string_view::npos)
    return false;
  std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  const std::string_view special = "!#$%&'*+/=?^_`{|}~.-";
  for (char c : local)
    if (!std::isalnum(static_cast<unsigned char>(c)) && special.find(c) == std::string_view::npos) return false;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  if (domain.size() < 3 || domain.find('.') == std::string_view::npos) return false;
  size_t label = 0;
  for (size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      if (label == 0 || label > 63 || domain[i - 1] == '-' || domain[i - label] == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(domain[i])) || domain[i] == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

bool valid_username(std::string_view u) {
  if (u.size() < 3 || u.size() > 32 || !std::isalnum(static_cast<unsigned char>(u[0]))) return false;
  return std::all_of(u.begin(), u.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '.' || c == '-'; });
}

}  // namespace spa::authd
