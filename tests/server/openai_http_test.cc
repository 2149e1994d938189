// The OpenAI-compatible HTTP API end to end on a loopback port (cpp-httplib's client), beside
// gRPC on the same HearthServer, over the fake runner and byte codec.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/server/server_fixture.h"

namespace hearth::testing {
namespace {

using json = nlohmann::json;

constexpr char kKey[] = "0123456789abcdef-key";

ServerOptions HttpOptions() {
  ServerOptions o;
  o.config.http_port = 0;
  return o;
}

struct Reply {
  int status = -1;  // -1: no response
  json body;        // parsed when the body is JSON
  std::string raw;
  std::string retry_after;
};

struct HttpFixture : ServerFixture {
  explicit HttpFixture(ServerOptions o = HttpOptions()) : ServerFixture(o) {}

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server->http_port());
    c.set_read_timeout(std::chrono::seconds(30));
    return c;
  }
  static httplib::Headers Auth(const std::string& key) {
    if (key.empty()) return {};
    return {{"Authorization", "Bearer " + key}};
  }
  static Reply From(const httplib::Result& r) {
    Reply reply;
    if (!r) {
      reply.raw = "no response: " + httplib::to_string(r.error());
      return reply;
    }
    reply.status = r->status;
    reply.raw = r->body;
    reply.retry_after = r->get_header_value("Retry-After");
    if (r->get_header_value("Content-Type") == "application/json")
      reply.body = json::parse(r->body, nullptr, false);
    return reply;
  }
  Reply Post(const std::string& path, const json& body, const std::string& key = "") {
    return From(Client().Post(path, Auth(key), body.dump(), "application/json"));
  }
  Reply Get(const std::string& path, const std::string& key = "") {
    return From(Client().Get(path, Auth(key)));
  }
};

json Completion(const std::string& prompt, int max_tokens) {
  return {{"model", "fake"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

// A self-signed certificate and key for 127.0.0.1 in the test's temporary directory.
bool MakeTestCertificate(std::string& cert, std::string& key) {
  const std::string dir = ::testing::TempDir();
  cert = dir + "/hearth_http_cert.pem", key = dir + "/hearth_http_key.pem";
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
      " -addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// A streaming completion as a request for httplib::Client::send (which takes the handlers).
httplib::Request StreamingCompletion(const std::string& prompt, int max_tokens) {
  json body = Completion(prompt, max_tokens);
  body["stream"] = true;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  return req;
}

json Chat(const std::string& question, int max_tokens) {
  return {
      {"model", "fake"},
      {"messages",
       {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", question}}}},
      {"max_tokens", max_tokens},
      {"temperature", 0}};
}

v1::GenerateRequest GrpcChat(const std::string& question, int max_tokens) {
  v1::GenerateRequest r;
  auto* s = r.mutable_chat()->add_messages();
  s->set_role("system");
  s->set_content("be brief");
  auto* u = r.mutable_chat()->add_messages();
  u->set_role("user");
  u->set_content(question);
  r.set_max_tokens(max_tokens);
  r.mutable_sampling()->set_temperature(0.f);
  return r;
}

// The events of an SSE body, checked for framing: each "data: <payload>\n\n", the last one
// "[DONE]" (not included). JSON payloads parsed.
std::vector<json> Events(const std::string& raw) {
  std::vector<json> events;
  size_t pos = 0;
  bool done = false;
  while (pos < raw.size()) {
    const size_t end = raw.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event at " << pos;
    if (end == std::string::npos) break;
    const std::string event = raw.substr(pos, end - pos);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    EXPECT_FALSE(done) << "an event after [DONE]";
    const std::string payload = event.substr(6);
    if (payload == "[DONE]") {
      done = true;
    } else {
      events.push_back(json::parse(payload));
    }
    pos = end + 2;
  }
  EXPECT_TRUE(done) << "no data: [DONE]";
  return events;
}

TEST(OpenAiHttpTest, CompletionEqualsGrpcGeneration) {
  HttpFixture f;
  ServerFixture::Stream grpc = f.Generate(TextRequest("The quick brown fox", 40));
  ASSERT_TRUE(grpc.status.ok());
  Reply r = f.Post("/v1/completions", Completion("The quick brown fox", 40));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "text_completion");
  EXPECT_EQ(r.body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(r.body["model"], "fake");
  EXPECT_GT(r.body["created"].get<int64_t>(), 1700000000);
  const json& choice = r.body["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["text"], grpc.text);
  EXPECT_EQ(choice["finish_reason"], "length");
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], 20);
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 40);
  EXPECT_EQ(r.body["usage"]["total_tokens"], 60);
  // One engine: the gRPC request's full prompt block (16 of 20 tokens) serves the HTTP one.
  EXPECT_EQ(r.body["usage"]["prompt_tokens_details"]["cached_tokens"], 16);
  // A prompt of token ids too.
  std::vector<int> ids;
  for (int32_t id : FakeTextCodec().Encode("The quick brown fox", true, false)) ids.push_back(id);
  Reply by_ids =
      f.Post("/v1/completions", {{"prompt", ids}, {"max_tokens", 40}, {"temperature", 0}});
  ASSERT_EQ(by_ids.status, 200) << by_ids.raw;
  EXPECT_EQ(by_ids.body["choices"][0]["text"], grpc.text);
}

TEST(OpenAiHttpTest, ChatEqualsGrpcChatAndSharesThePrefixCache) {
  HttpFixture f;
  ServerFixture::Stream grpc = f.Generate(GrpcChat("why?", 24));
  ASSERT_TRUE(grpc.status.ok());
  Reply r = f.Post("/v1/chat/completions", Chat("why?", 24));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "chat.completion");
  EXPECT_EQ(r.body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(r.body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], grpc.text);
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], grpc.final.usage().prompt_tokens());
  // One engine: the gRPC request's full prompt blocks serve the HTTP one.
  EXPECT_GT(r.body["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 0);
}

TEST(OpenAiHttpTest, StreamsAreServerSentEventsEndingInDone) {
  HttpFixture f;
  for (const bool chat : {false, true}) {
    SCOPED_TRACE(chat ? "chat" : "completions");
    const std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
    json body = chat ? Chat("stream it", 30) : Completion("stream it", 30);
    const json plain = f.Post(path, body).body["choices"][0];
    const std::string expected = chat ? plain["message"]["content"] : plain["text"];
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    httplib::Client c = f.Client();
    httplib::Result res = c.Post(path, body.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
    std::vector<json> events = Events(res->body);
    ASSERT_GE(events.size(), 3u);
    std::string text;
    int finishes = 0;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
      const json& e = events[i];
      EXPECT_EQ(e["object"], chat ? "chat.completion.chunk" : "text_completion");
      EXPECT_EQ(e["id"], events[0]["id"]);
      EXPECT_TRUE(e.contains("usage") && e["usage"].is_null());
      const json& choice = e["choices"][0];
      text += chat ? choice["delta"].value("content", "") : choice["text"].get<std::string>();
      if (!choice["finish_reason"].is_null()) {
        ++finishes;
        EXPECT_EQ(choice["finish_reason"], "length");
        EXPECT_EQ(i + 2, events.size()) << "the finish is the last chunk before the usage";
      }
    }
    if (chat) {
      EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
    }
    EXPECT_EQ(finishes, 1);
    EXPECT_EQ(text, expected);
    const json& usage = events.back();
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"]["completion_tokens"], 30);
  }
}

TEST(OpenAiHttpTest, StopAndLogprobsInOpenAiFormats) {
  HttpFixture f;
  const std::string solo =
      f.Post("/v1/completions", Completion("stop here", 40)).body["choices"][0]["text"];
  ASSERT_GE(solo.size(), 20u);
  const std::string stop = solo.substr(15, 2);
  json body = Completion("stop here", 40);
  body["stop"] = {stop};
  body["logprobs"] = 2;
  Reply r = f.Post("/v1/completions", body);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& c = r.body["choices"][0];
  EXPECT_EQ(c["text"], solo.substr(0, solo.find(stop)));
  EXPECT_EQ(c["finish_reason"], "stop");
  const json& lp = c["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), lp["token_logprobs"].size());
  ASSERT_EQ(lp["tokens"].size(), lp["text_offset"].size());
  ASSERT_GE(lp["tokens"].size(), 15u);
  for (size_t i = 0; i < lp["tokens"].size(); ++i) {
    EXPECT_LE(lp["top_logprobs"][i].size(), 2u);
    EXPECT_LE(lp["token_logprobs"][i].get<double>(), 0.0);
    EXPECT_EQ(lp["text_offset"][i], i);  // one byte per fake token
  }

  json chat = Chat("logprobs please", 6);
  chat["logprobs"] = true;
  chat["top_logprobs"] = 3;
  Reply rc = f.Post("/v1/chat/completions", chat);
  ASSERT_EQ(rc.status, 200) << rc.raw;
  const json& content = rc.body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 6u);
  std::string joined;
  for (const json& t : content) {
    joined += t["token"].get<std::string>();
    EXPECT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_EQ(t["bytes"].size(), t["token"].get<std::string>().size());
  }
  EXPECT_EQ(joined, rc.body["choices"][0]["message"]["content"]);
}

TEST(OpenAiHttpTest, ErrorsHaveOpenAisShapeAndStatus) {
  HttpFixture f;
  auto expect = [&](const Reply& r, int status, const char* param) {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.contains("error")) << r.raw;
    EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty());
    EXPECT_TRUE(r.body["error"].contains("type") && r.body["error"].contains("code"));
    if (param != nullptr) {
      EXPECT_EQ(r.body["error"]["param"], param) << r.raw;
    }
  };
  json hot = Completion("x", 4);
  hot["temperature"] = 11;
  expect(f.Post("/v1/completions", hot), 400, "temperature");
  json two = Chat("x", 4);
  two["n"] = 2;
  expect(f.Post("/v1/chat/completions", two), 400, "n");
  json wrong_model = Chat("x", 4);
  wrong_model["model"] = "gpt-4o";
  expect(f.Post("/v1/chat/completions", wrong_model), 404, "model");
  expect(HttpFixture::From(f.Client().Post("/v1/completions", "{oops", "application/json")), 400,
         nullptr);
  // Nested a million levels (2 MB): refused, where quoting the field in the error message
  // recursed once a level and took the whole server down (SIGSEGV); the server still serves.
  const std::string deep =
      R"({"model": )" + std::string(1000000, '[') + std::string(1000000, ']') + "}";
  const Reply nested =
      HttpFixture::From(f.Client().Post("/v1/chat/completions", deep, "application/json"));
  expect(nested, 400, nullptr);
  EXPECT_NE(nested.raw.find("nests JSON deeper than"), std::string::npos) << nested.raw;
  EXPECT_EQ(f.Post("/v1/completions", Completion("x", 4)).status, 200);
  expect(f.Get("/v1/nothing"), 404, nullptr);
  expect(f.Post("/v1/models", json::object()), 404, nullptr);
  expect(f.Get("/v1/models/other"), 404, nullptr);
  Reply models = f.Get("/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.body["data"][0]["id"], "fake");
  EXPECT_EQ(f.Get("/v1/models/fake").body["id"], "fake");
  EXPECT_EQ(f.Get("/health").status, 200);
  EXPECT_EQ(f.Get("/ready").status, 200);
}

TEST(OpenAiHttpTest, SameApiKeysAndTenantMetricsAsGrpc) {
  ServerOptions o = HttpOptions();
  o.api_keys = {{kKey, "team-http"}};
  HttpFixture f(o);
  EXPECT_EQ(f.Post("/v1/completions", Completion("x", 3)).status, 401);
  EXPECT_EQ(f.Post("/v1/completions", Completion("x", 3), "wrong-key-0123456789").status, 401);
  EXPECT_EQ(f.Get("/v1/models").status, 401);
  EXPECT_EQ(f.Get("/v1/models", kKey).status, 200);
  EXPECT_EQ(f.Get("/ready").status, 200);  // probes need no key
  Reply ok = f.Post("/v1/completions", Completion("x", 3), kKey);
  ASSERT_EQ(ok.status, 200) << ok.raw;
  json other = Completion("x", 3);
  other["user"] = "end-user@example.com";  // an end user's id: accounted to the key's tenant
  EXPECT_EQ(f.Post("/v1/completions", other, kKey).status, 200);
  // The engine's metrics (GetLoad over gRPC) count the HTTP request under the key's tenant.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kKey);
  v1::Load load;
  ASSERT_TRUE(f.control->GetLoad(&ctx, v1::GetLoadRequest(), &load).ok());
  bool found = false;
  for (const auto& t : load.tenants()) {
    if (t.tenant() != "team-http") continue;
    found = true;
    EXPECT_GE(t.completion_tokens(), 6);
  }
  EXPECT_TRUE(found);
}

TEST(OpenAiHttpTest, QueueFullIs429WithRetryAfter) {
  ServerOptions o = HttpOptions();
  o.runner.step_delay = std::chrono::milliseconds(3);
  o.engine.max_waiting_requests = 2;
  o.engine.scheduler.max_num_seqs = 1;
  HttpFixture f(o);
  std::vector<Reply> replies(24);
  std::vector<std::thread> threads;
  for (int i = 0; i < 24; ++i)
    threads.emplace_back([&, i] {
      replies[i] = f.Post("/v1/completions", Completion("overload " + std::to_string(i), 15));
    });
  for (auto& t : threads) t.join();
  int ok = 0, full = 0;
  for (const Reply& r : replies) {
    if (r.status == 200) {
      ++ok;
      EXPECT_EQ(r.body["usage"]["completion_tokens"], 15);
    } else {
      EXPECT_EQ(r.status, 429) << r.raw;
      EXPECT_EQ(r.retry_after, "1");
      EXPECT_EQ(r.body["error"]["code"], "queue_full");
      ++full;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(full, 0);
}

TEST(OpenAiHttpTest, DrainFinishesStreamsThenAnswers503AndNotReady) {
  ServerOptions o = HttpOptions();
  o.runner.step_delay = std::chrono::milliseconds(1);
  HttpFixture f(o);
  std::vector<std::string> bodies(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] {
      json body = Completion("drain me", 300);
      body["stream"] = true;
      httplib::Client c = f.Client();
      if (auto res = c.Post("/v1/completions", body.dump(), "application/json"))
        bodies[i] = res->body;
    });
  while (f.server->engine().stats().num_in_flight < 3)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const engine::DrainResult d = f.server->Drain(std::chrono::seconds(20));
  EXPECT_EQ(d.aborted, 0);
  for (auto& t : threads) t.join();
  for (const std::string& body : bodies) {
    std::vector<json> events = Events(body);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["choices"][0]["finish_reason"], "length");
  }
  Reply late = f.Post("/v1/completions", Completion("late", 3));
  EXPECT_EQ(late.status, 503) << late.raw;
  EXPECT_EQ(f.Get("/ready").status, 503);
  EXPECT_EQ(f.Get("/health").status, 200);  // alive, just not taking work
  EXPECT_EQ(f.HealthStatus(), 2);
}

TEST(OpenAiHttpTest, ClientDisconnectMidStreamFreesBlocks) {
  ServerOptions o = HttpOptions();
  o.runner.step_delay = std::chrono::milliseconds(2);
  HttpFixture f(o);
  httplib::Request req = StreamingCompletion(std::string(70, 'd'), 3000);
  std::string received;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    received.append(data, n);
    return received.find("\"text\"") == std::string::npos;  // hang up after the first token
  };
  httplib::Client c = f.Client();
  httplib::Result res = c.send(req);
  EXPECT_NE(received.find("data: "), std::string::npos);
  EXPECT_EQ(res.error(), httplib::Error::Canceled);
  c.stop();
  f.WaitForIdleBlocks();
  EXPECT_EQ(f.server->engine().stats().num_in_flight, 0);
}

// A client that gives up on a request without streaming (here its read timeout) cancels it, as
// a dropped gRPC stream does: otherwise the request would hold its sequence, its KV blocks and an
// HTTP worker for all of its 3000 tokens (6 s here) with no one to read the answer.
// Over TLS too: the connection's TCP socket is watched, under the TLS session.
void ExpectClientGoneCancels(bool tls) {
  ServerOptions o = HttpOptions();
  o.runner.step_delay = std::chrono::milliseconds(2);
  std::string cert, key;
  if (tls) {
    ASSERT_TRUE(MakeTestCertificate(cert, key));
    o.config.tls_cert_file = cert;
    o.config.tls_key_file = key;
  }
  HttpFixture f(o);
  {
    std::unique_ptr<httplib::ClientImpl> c;
    if (tls) {
      auto ssl = std::make_unique<httplib::SSLClient>("127.0.0.1", f.server->http_port());
      ssl->set_ca_cert_path(cert.c_str());
      ssl->enable_server_certificate_verification(true);
      c = std::move(ssl);
    } else {
      c = std::make_unique<httplib::ClientImpl>("127.0.0.1", f.server->http_port());
    }
    c->set_read_timeout(std::chrono::milliseconds(200));
    httplib::Result res = c->Post("/v1/completions", Completion(std::string(70, 'd'), 3000).dump(),
                                  "application/json");
    EXPECT_EQ(res.error(), httplib::Error::Read);
    c->stop();  // closes the connection
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (f.server->engine().stats().num_in_flight != 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(f.server->engine().stats().num_in_flight, 0);
  EXPECT_LT(f.runner->num_steps(), 1500);
  f.WaitForIdleBlocks();
  if (tls) return;
  // The server still answers, on a new connection.
  const Reply r = f.Post("/v1/completions", Completion("after", 4));
  EXPECT_EQ(r.status, 200) << r.raw;
}

TEST(OpenAiHttpTest, ClientGoneBeforeTheAnswerCancelsTheRequest) { ExpectClientGoneCancels(false); }

TEST(OpenAiHttpTest, ClientGoneBeforeTheAnswerCancelsTheRequestOverTls) {
  ExpectClientGoneCancels(true);
}

// Every request the engine admits (running or waiting) has an HTTP worker: with 2 running and
// 40 waiting allowed, 40 streams opened at once all get their 200 at once (each worker then
// waits on its stream), instead of the connections past the pool waiting unseen, neither
// served nor refused, until a stream ends. Past the waiting room the queue's 429 answers.
TEST(OpenAiHttpTest, EveryAdmittedRequestHasAWorker) {
  ServerOptions o = HttpOptions();
  o.runner.step_delay = std::chrono::milliseconds(2);
  o.config.max_seqs = o.engine.scheduler.max_num_seqs = 2;
  o.config.max_waiting_requests = o.engine.max_waiting_requests = 40;
  HttpFixture f(o);
  constexpr int kClients = 44;
  std::vector<int> status(kClients, -1);
  std::vector<double> seconds(kClients, -1);
  std::atomic<int> answered{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] {
      httplib::Request req = StreamingCompletion("client " + std::to_string(i), 3000);
      req.response_handler = [&, i](const httplib::Response& r) {
        status[i] = r.status;
        seconds[i] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        answered.fetch_add(1);
        return true;
      };
      // Streams stay open (holding their workers) until every client has its answer or 4 s
      // have passed; then each hangs up and the server cancels its stream.
      req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
        return answered.load() < kClients &&
               std::chrono::steady_clock::now() - start < std::chrono::seconds(4);
      };
      httplib::Client c = f.Client();
      c.send(req);
    });
  for (std::thread& t : clients) t.join();
  int ok = 0, refused = 0;
  for (int i = 0; i < kClients; ++i) {
    ok += status[i] == 200;
    refused += status[i] == 429;
    EXPECT_LT(seconds[i], 3.0) << "client " << i << " waited for a worker (status " << status[i]
                               << ")";
  }
  EXPECT_EQ(ok + refused, kClients);
  // The 40 waiting at least (the 2 running too where the engine took them from the queue
  // before the last arrived).
  EXPECT_GE(ok, 40);
  f.WaitForIdleBlocks();
}

// A failure after the stream's 200 went out (here the engine stopping under it) arrives as an
// OpenAI error event before [DONE], which the openai package raises as an APIError.
TEST(OpenAiHttpTest, AnErrorMidStreamIsAnErrorEvent) {
  ServerOptions o = HttpOptions();
  o.runner.step_delay = std::chrono::milliseconds(2);
  HttpFixture f(o);
  std::thread stopper([&] {
    while (f.server->engine().stats().num_running == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const int64_t steps = f.runner->num_steps();
    while (f.runner->num_steps() < steps + 5)  // a few tokens are out
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    f.server->engine().Shutdown();
  });
  json body = Completion("cut short", 3000);
  body["stream"] = true;
  httplib::Result res = f.Client().Post("/v1/completions", body.dump(), "application/json");
  stopper.join();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  std::vector<json> events = Events(res->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back()["error"]["code"], "unavailable") << events.back().dump();
  for (size_t i = 0; i + 1 < events.size(); ++i)
    EXPECT_TRUE(events[i]["choices"][0]["finish_reason"].is_null());
}

TEST(OpenAiHttpTest, BurstOfNewConnectionsIsServedAndPortInUseFails) {
  HttpFixture f;
  // More simultaneous connections than httplib's compiled-in listen backlog (5): with that
  // backlog some of them were reset (seen as "no response"); none may fail.
  std::vector<int> status(64, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) threads.emplace_back([&, i] { status[i] = f.Get("/ready").status; });
  for (auto& t : threads) t.join();
  for (int s : status) EXPECT_EQ(s, 200);

  server::ServiceContext context;
  server::ServerConfig config = LoopbackConfig();
  config.http_port = f.server->http_port();
  auto second = server::OpenAiApi::Start(config, &context);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("port in use"), std::string::npos);
}

TEST(OpenAiHttpTest, HttpsWithTheGrpcCertificateAndMutualTls) {
  // As ServerTest.MutualTlsAcceptsOnlyClientsWithACertificate: one self-signed certificate for
  // 127.0.0.1 is server cert, client cert and both trust roots.
  std::string cert, key;
  ASSERT_TRUE(MakeTestCertificate(cert, key));
  ServerOptions o = HttpOptions();
  o.config.tls_cert_file = cert;
  o.config.tls_key_file = key;
  o.config.tls_client_ca_file = cert;
  HttpFixture f(o);
  auto post = [&](bool client_cert) {
    auto c = client_cert ? httplib::SSLClient("127.0.0.1", f.server->http_port(), cert, key)
                         : httplib::SSLClient("127.0.0.1", f.server->http_port());
    c.set_ca_cert_path(cert.c_str());
    c.enable_server_certificate_verification(true);
    c.set_read_timeout(std::chrono::seconds(10));
    return HttpFixture::From(
        c.Post("/v1/completions", Completion("tls", 3).dump(), "application/json"));
  };
  Reply with_cert = post(true);
  ASSERT_EQ(with_cert.status, 200) << with_cert.raw;
  EXPECT_EQ(with_cert.body["usage"]["completion_tokens"], 3);
  EXPECT_EQ(post(false).status, -1);  // no client certificate: the handshake fails
  EXPECT_EQ(HttpFixture::From(f.Client().Get("/health")).status, -1);  // plain HTTP: no
}

TEST(OpenAiHttpTest, ConfigFileKeysAndLimits) {
  const std::string path = ::testing::TempDir() + "/hearth_http_config.json";
  {
    std::ofstream out(path);
    out << R"({"http_port": 8000, "http_threads": 12})";
  }
  server::ServerConfig c;
  EXPECT_EQ(c.http_port, -1);  // off by default
  ASSERT_TRUE(server::LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.http_port, 8000);
  EXPECT_EQ(c.http_threads, 12);
  EXPECT_TRUE(server::ValidateServerConfig(c).ok());
  c.http_port = 70000;
  EXPECT_NE(server::ValidateServerConfig(c).message().find("http_port"), std::string::npos);
  c.http_port = 0;
  c.http_threads = -1;
  EXPECT_NE(server::ValidateServerConfig(c).message().find("http_threads"), std::string::npos);
}

}  // namespace
}  // namespace hearth::testing
