#pragma once
// A minimal test harness: CHECK(cond), CHECK_NEAR(a, b, tol), CHECK_THROWS(expr, Type)
// and TEST(name) { ... }. main() runs every test and exits non-zero on a failure.
// (In-house rather than GoogleTest so the suite needs no system package.)
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace check_harness {
struct Case {
  const char* name;
  std::function<void()> body;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
inline int& failures() {
  static int n = 0;
  return n;
}
struct Register {
  Register(const char* name, std::function<void()> body) { cases().push_back({name, std::move(body)}); }
};
inline void fail(const char* file, int line, const std::string& what) {
  std::printf("  FAILED %s:%d: %s\n", file, line, what.c_str());
  ++failures();
}
}  // namespace check_harness

#define TEST(name)                                                    \
  static void name();                                                 \
  static check_harness::Register register_##name(#name, name);        \
  static void name()

#define CHECK(cond) \
  do {              \
    if (!(cond)) check_harness::fail(__FILE__, __LINE__, #cond); \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                            \
  do {                                                                                                   \
    double va_ = (a), vb_ = (b);                                                                         \
    if (!(std::abs(va_ - vb_) <= (tol)))                                                                 \
      check_harness::fail(__FILE__, __LINE__,                                                            \
                          std::string(#a " = ") + std::to_string(va_) + ", " #b " = " + std::to_string(vb_)); \
  } while (0)

#define CHECK_THROWS(expr, Type)                                                        \
  do {                                                                                  \
    bool thrown_ = false;                                                               \
    try {                                                                               \
      (void)(expr);                                                                     \
    } catch (const Type&) {                                                             \
      thrown_ = true;                                                                   \
    }                                                                                   \
    if (!thrown_) check_harness::fail(__FILE__, __LINE__, #expr " did not throw " #Type); \
  } while (0)

int main() {
  int failed_cases = 0;
  for (auto& c : check_harness::cases()) {
    int before = check_harness::failures();
    try {
      c.body();
    } catch (const std::exception& e) {
      check_harness::fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    }
    bool ok = check_harness::failures() == before;
    failed_cases += !ok;
    std::printf("%s %s\n", ok ? "[ ok ]" : "[FAIL]", c.name);
  }
  std::printf("%zu passed, %d failed\n", check_harness::cases().size() - failed_cases, failed_cases);
  return failed_cases ? 1 : 0;
}
