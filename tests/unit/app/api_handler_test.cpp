// The control API's request -> reply function against a fake forwarding
// table: slirp4netns's replies and error texts byte for byte (checked
// against slirp4netns 1.2.0's binary), and tapir's additions.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "app/api.hpp"

namespace tapir::app {
namespace {

class FakeTable : public flows::ForwardTable {
 public:
  Expected<uint32_t, flows::ForwardFailure> add(const flows::ForwardRule& r) override {
    for (const auto& [id, e] : rules) {
      if (e.host_port == r.host_port && e.proto == r.proto && e.host_addr == r.host_addr) {
        return unexpected(flows::ForwardFailure{flows::ForwardError::kBind, EADDRINUSE});
      }
    }
    rules.emplace(next, r);
    return next++;
  }
  bool remove(uint32_t id) override { return rules.erase(id) == 1; }
  std::vector<flows::ForwardEntry> list() const override {
    std::vector<flows::ForwardEntry> out;
    for (const auto& [id, r] : rules) {
      out.push_back({id, r,
                     r.guest_addr ? *r.guest_addr
                                  : (r.guest_v6 ? *wire::IpAddr::parse("fd00::100")
                                                : *wire::IpAddr::parse("10.0.2.100"))});
    }
    return out;
  }
  std::map<uint32_t, flows::ForwardRule> rules;
  uint32_t next = 1;
};

struct Api {
  FakeTable table;
  wire::AddressPlan plan;
  ApiHandler handler;
  explicit Api(bool ipv6 = false)
      : plan(ipv6_plan(ipv6)), handler(table, plan, [] {
          return nlohmann::json{{"frames", 7}};
        }) {}
  static wire::AddressPlan ipv6_plan(bool on) {
    wire::AddressPlan p;
    p.ipv6 = on;
    return p;
  }
  std::string operator()(std::string_view req) { return handler.handle(req); }
};

std::string err(const char* desc) {
  return std::string(R"({"error":{"desc":")") + desc + "\"}}";
}

TEST(ApiHandler, AddListRemoveAsSlirp4netns) {
  Api api;
  EXPECT_EQ(api(R"({"execute":"list_hostfwd"})"), R"({"entries":[]})");
  EXPECT_EQ(api(R"({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "0.0.0.0",
                "host_port": 8080, "guest_addr": "10.0.2.100", "guest_port": 80}})"),
            R"({"return":{"id":1}})");
  // Empty host_addr is 0.0.0.0, missing guest_addr the guest's address.
  EXPECT_EQ(
      api(R"({"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"","host_port":5353,"guest_port":53}})"),
      R"({"return":{"id":2}})");
  EXPECT_FALSE(api.table.rules.at(2).guest_addr.has_value());
  EXPECT_EQ(
      api(R"({"execute":"list_hostfwd"})"),
      R"({"entries":[{"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"10.0.2.100","guest_port":80},)"
      R"({"id":2,"proto":"udp","host_addr":"0.0.0.0","host_port":5353,"guest_addr":"10.0.2.100","guest_port":53}]})");
  EXPECT_EQ(api(R"({"execute":"remove_hostfwd","arguments":{"id":1}})"), R"({"return":{}})");
  EXPECT_EQ(api(R"({"execute":"remove_hostfwd","arguments":{"id":1}})"), err(kErrRemoveId));
  EXPECT_EQ(
      api(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":8081,"guest_port":81}})"),
      R"({"return":{"id":3}})");  // ids are never reused
}

TEST(ApiHandler, EveryErrorWithSlirp4netnsText) {
  Api api;
  ASSERT_EQ(
      api(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":9000,"guest_port":80}})"),
      R"({"return":{"id":1}})");
  const struct {
    const char* request;
    const char* desc;
  } cases[] = {
      {"", kErrParse},
      {"nonsense", kErrParse},
      {"{\"execute\":", kErrParse},                                // cut short
      {R"({"execute":"list_hostfwd","execute":"x"})", kErrParse},  // duplicate key
      {"[]", kErrNotObject},
      {"42", kErrNotObject},
      {"\"add_hostfwd\"", kErrNotObject},
      {"{}", kErrNoExecute},
      {R"({"execute":3})", kErrNoExecute},
      {R"({"execute":null})", kErrNoExecute},
      {R"({"Execute":"list_hostfwd"})", kErrNoExecute},
      {R"({"execute":"foo"})", kErrUnknownExecute},
      {R"({"execute":""})", kErrUnknownExecute},
      {R"({"execute":"add_hostfwd"})", kErrProto},
      {R"({"execute":"add_hostfwd","arguments":5})", kErrProto},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"sctp"}})", kErrProto},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"TCP"}})", kErrProto},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"x"}})", kErrHostAddr},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"1.2.3"}})",
       kErrHostAddr},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"[::1]"}})",
       kErrHostAddr},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp"}})", kErrHostPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":"80"}})", kErrHostPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":0}})", kErrHostPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":-1}})", kErrHostPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":65536}})", kErrHostPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":1e300}})", kErrHostPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":80,"guest_addr":"x"}})",
       kErrGuestAddr},
      // IPv6 guest addresses need IPv6 on.
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":80,"guest_addr":"fd00::100"}})",
       kErrGuestAddr},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":80}})", kErrGuestPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":80,"guest_port":0}})",
       kErrGuestPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":80,"guest_port":70000}})",
       kErrGuestPort},
      {R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":9000,"guest_port":80}})",
       kErrAddFailed},
      {R"({"execute":"remove_hostfwd"})", kErrRemoveId},
      {R"({"execute":"remove_hostfwd","arguments":{"id":"1"}})", kErrRemoveId},
      {R"({"execute":"remove_hostfwd","arguments":{"id":0}})", kErrRemoveId},
      {R"({"execute":"remove_hostfwd","arguments":{"id":42}})", kErrRemoveId},
  };
  for (const auto& c : cases) EXPECT_EQ(api(c.request), err(c.desc)) << c.request;
  EXPECT_EQ(api(std::string(4096, ' ')), err(kErrTooLarge));
  EXPECT_EQ(api.table.rules.size(), 1u);  // nothing else was added or removed
}

TEST(ApiHandler, LenientWhereSlirp4netnsIs) {
  Api api;
  // Text after the JSON value is ignored; a NUL ends the request.
  EXPECT_EQ(api(R"({"execute":"list_hostfwd"} trailing)"), R"({"entries":[]})");
  EXPECT_EQ(api(std::string(R"({"execute":"list_hostfwd"})") + '\0' + "junk"), R"({"entries":[]})");
  // A port number is cast to an integer; a non-string host_addr is the default.
  EXPECT_EQ(
      api(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":null,"host_port":8080.9,"guest_port":80}})"),
      R"({"return":{"id":1}})");
  EXPECT_EQ(api.table.rules.at(1).host_port, 8080);
  EXPECT_EQ(api.table.rules.at(1).host_addr.to_string(), "0.0.0.0");
  // 4095 bytes is not too large.
  std::string padded = R"({"execute":"remove_hostfwd","arguments":{"id":1}})";
  padded.resize(4095, ' ');
  EXPECT_EQ(api(padded), R"({"return":{}})");
}

TEST(ApiHandler, Ipv6AddressesAndStats) {
  Api api(/*ipv6=*/true);
  EXPECT_EQ(
      api(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"::1","host_port":8080,"guest_addr":"fd00::5","guest_port":80}})"),
      R"({"return":{"id":1}})");
  EXPECT_EQ(
      api(R"({"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"::","host_port":53,"guest_port":53}})"),
      R"({"return":{"id":2}})");
  EXPECT_TRUE(api.table.rules.at(2).guest_v6);  // the guest's IPv6 address
  // An IPv6 host address may forward to the guest's IPv4 address.
  EXPECT_EQ(
      api(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"::","host_port":81,"guest_addr":"10.0.2.100","guest_port":80}})"),
      R"({"return":{"id":3}})");
  EXPECT_EQ(
      api(R"({"execute":"list_hostfwd"})"),
      R"({"entries":[{"id":1,"proto":"tcp","host_addr":"::1","host_port":8080,"guest_addr":"fd00::5","guest_port":80},)"
      R"({"id":2,"proto":"udp","host_addr":"::","host_port":53,"guest_addr":"fd00::100","guest_port":53},)"
      R"({"id":3,"proto":"tcp","host_addr":"::","host_port":81,"guest_addr":"10.0.2.100","guest_port":80}]})");
  EXPECT_EQ(api(R"({"execute":"stats"})"), R"({"return":{"frames":7}})");
}

TEST(ApiHandler, RequestFraming) {
  EXPECT_EQ(classify_request(""), RequestState::kIncomplete);
  EXPECT_EQ(classify_request("  "), RequestState::kIncomplete);
  EXPECT_EQ(classify_request(R"({"execute":"list_)"), RequestState::kIncomplete);
  EXPECT_EQ(classify_request(R"({"execute":"list_hostfwd")"), RequestState::kIncomplete);
  EXPECT_EQ(classify_request(R"({"execute":"list_hostfwd"})"), RequestState::kReady);
  EXPECT_EQ(classify_request(R"({"execute":"list_hostfwd"}{)"), RequestState::kReady);
  EXPECT_EQ(classify_request("nonsense"), RequestState::kReady);  // can never be JSON
  EXPECT_EQ(classify_request("{]"), RequestState::kReady);
  EXPECT_EQ(classify_request(std::string(4096, '{')), RequestState::kTooLarge);
}

}  // namespace
}  // namespace tapir::app
