// hearth bench --model PATH [--device ...] [--input-len N] [--output-len N] [--requests N]
// [--concurrency N] [--price-per-hour P] [--json PATH]: the serving figures without a server.
// The same Engine `hearth serve` runs (BuildEngine, warmed up), fed random prompts of exactly
// input-len tokens for exactly output-len tokens each (greedy unless --temperature, EOS
// ignored), `concurrency`
// requests in flight until `requests` are done. Prints throughput, TTFT / TPOT / ITL
// percentiles, the decode step's memory traffic against the copy bandwidth measured on the same
// device first, and the cost per million output tokens at a given price per hour; the figures
// are defined as the gRPC load generator's (server/bench_stats.h).
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/core/device.h"
#include "server/bench_stats.h"
#include "server/cli.h"
#include "server/engine_builder.h"

namespace hearth::cli {
namespace {

struct BenchArgs {
  server::ServerConfig config;
  int input_len = 128;
  int output_len = 128;
  int requests = 0;  // 0: as many as the concurrency
  int concurrency = 1;
  uint64_t seed = 0;
  SamplingParams sampling = [] {  // greedy unless --temperature
    SamplingParams p;
    p.temperature = 0.f;
    return p;
  }();
  double price_per_hour = 0;
  bool measure_ceiling = true;
  std::string json_path;
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Host memory copy bandwidth in GB/s (bytes read + written), every OpenMP thread copying its
// share of 256 MiB, the best of five: the CPU runner's roofline.
double MeasureHostCopyGbps() {
  const size_t bytes = size_t{256} << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    const double t0 = Now();
#pragma omp parallel
    {
      const size_t n = static_cast<size_t>(omp_get_num_threads());
      const size_t i = static_cast<size_t>(omp_get_thread_num());
      const size_t begin = bytes / n * i, end = i + 1 == n ? bytes : bytes / n * (i + 1);
      std::memcpy(dst.data() + begin, src.data() + begin, end - begin);
    }
    const double s = Now() - t0;
    if (s > 0) best = std::max(best, 2.0 * static_cast<double>(bytes) / s / 1e9);
  }
  return best;
}

// What the engine thread reports, summed over the run.
class StepTotals : public engine::EngineObserver {
 public:
  void OnStep(const engine::StepReport& r) override {
    std::lock_guard lock(mu_);
    if (!counting_) return;
    ++steps_;
    device_s_ += r.device_seconds;
    step_s_ += r.step_seconds;
    tokens_ += r.num_batched_tokens;
  }
  void OnInterTokenGap(const std::string&, double) override {}
  void OnRequestDone(const engine::RequestReport&) override {}
  void Start() {
    std::lock_guard lock(mu_);
    counting_ = true;
  }
  nlohmann::json Json() {
    std::lock_guard lock(mu_);
    return {{"steps", steps_},
            {"device_seconds", device_s_},
            {"step_seconds", step_s_},
            {"mean_batched_tokens", steps_ > 0 ? static_cast<double>(tokens_) / steps_ : 0.0}};
  }

 private:
  std::mutex mu_;
  bool counting_ = false;
  int64_t steps_ = 0, tokens_ = 0;
  double device_s_ = 0, step_s_ = 0;
};

// One request, submitted and read to its final chunk on the calling thread.
server::BenchRecord RunOne(engine::Engine& engine, int index, std::vector<int32_t> prompt,
                           int output_len, const SamplingParams& sampling) {
  server::BenchRecord rec;
  engine::EngineRequest r;
  r.request_id = "bench-" + std::to_string(index);
  r.prompt_token_ids = std::move(prompt);
  r.limits.max_tokens = output_len;
  r.limits.ignore_eos = true;
  r.sampling = sampling;
  r.sampling.seed += static_cast<uint64_t>(index);  // each request its own draws
  rec.start = Now();
  Result<std::shared_ptr<engine::OutputStream>> stream = engine.Submit(std::move(r));
  if (!stream.ok()) {
    rec.ok = false;
    rec.end = Now();
    return rec;
  }
  double last = 0;
  while (true) {
    std::optional<engine::OutputChunk> chunk = (*stream)->Next();
    if (!chunk) continue;
    const double now = Now();
    const int tokens = static_cast<int>(chunk->token_ids.size());
    if (tokens > 0) {
      if (!rec.first) {
        rec.first = now;
      } else {
        for (int i = 0; i < tokens; ++i) rec.gaps.push_back((now - last) / tokens);
      }
      last = now;
    }
    if (chunk->final) {
      rec.end = now;
      rec.ok = chunk->status.ok();
      rec.prompt_tokens = chunk->prompt_tokens;
      rec.output_tokens = chunk->completion_tokens;
      return rec;
    }
  }
}

std::string Fixed(double v, int digits) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

nlohmann::json DistJson(const server::Distribution& d) {
  auto num = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
  return {{"p50", num(d.p50)},
          {"p90", num(d.p90)},
          {"p99", num(d.p99)},
          {"mean", num(d.mean)},
          {"n", d.n}};
}

int Bench(BenchArgs a) {
  if (a.input_len < 1 || a.output_len < 1 || a.concurrency < 1 || a.requests < 0) {
    std::fprintf(stderr,
                 "error: --input-len, --output-len and --concurrency must be at least 1, "
                 "--requests at least 0\n");
    return 2;
  }
  if (a.requests == 0) a.requests = a.concurrency;
  a.sampling.seed = a.seed;
  if (Status s = ValidateSamplingParams(a.sampling); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 2;
  }
  if (Status s = server::ValidateServerConfig(a.config); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 2;
  }
  const bool cuda = a.config.device.rfind("cuda", 0) == 0;
  // The ceiling first: the engine then holds most of the device's memory.
  double copy_gbps = 0;
  if (a.measure_ceiling) {
    copy_gbps = cuda ? MeasureGpuCopyGbps(
                           a.config.device.size() > 5 ? std::atoi(a.config.device.c_str() + 5) : 0)
                     : MeasureHostCopyGbps();
  }
  StepTotals totals;
  Result<server::BuiltEngine> built = server::BuildEngine(a.config, &totals);
  if (!built.ok()) {
    std::fprintf(stderr, "error: %s\n", built.status().ToString().c_str());
    return 1;
  }
  engine::Engine& engine = *built->engine;
  const v1::ModelInfo& info = built->info;
  if (a.input_len + a.output_len > engine.max_seq_len()) {
    std::fprintf(stderr, "error: --input-len %d + --output-len %d exceed the context (%d tokens)\n",
                 a.input_len, a.output_len, engine.max_seq_len());
    return 2;
  }
  if (Status s = engine.WarmUp(); !s.ok()) {
    std::fprintf(stderr, "error: warm-up: %s\n", s.ToString().c_str());
    return 1;
  }
  // Random prompts (token ids drawn uniformly from the vocabulary, seeded, from id 3 on as the
  // load generator draws them: BOS/EOS-like low ids skipped): no two share a prefix, so the
  // prefix cache does not shorten the prefills.
  std::mt19937_64 rng(a.seed);
  const int32_t vocab = engine.codec().vocab_size();
  std::uniform_int_distribution<int32_t> token(std::min(3, vocab - 1), vocab - 1);
  std::vector<std::vector<int32_t>> prompts(a.requests, std::vector<int32_t>(a.input_len));
  for (auto& p : prompts)
    for (int32_t& id : p) id = token(rng);

  std::fprintf(stderr, "bench: %s on %s, %d requests of %d in / %d out, %d at a time\n",
               info.name().c_str(), info.device().c_str(), a.requests, a.input_len, a.output_len,
               a.concurrency);
  std::vector<server::BenchRecord> records(a.requests);
  std::atomic<int> next{0};
  totals.Start();
  const double t0 = Now();
  std::vector<std::thread> clients;
  for (int c = 0; c < std::min(a.concurrency, a.requests); ++c) {
    clients.emplace_back([&] {
      for (int i = next++; i < a.requests; i = next++) {
        records[i] = RunOne(engine, i, std::move(prompts[i]), a.output_len, a.sampling);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  double end = t0;
  for (const server::BenchRecord& r : records) end = std::max(end, r.end);
  const server::BenchSummary s = server::Summarize(records, end - t0);
  const auto bandwidth = server::DecodeBandwidthOf(
      s, info.weight_bytes(), info.kv_bytes_per_token(), a.input_len, a.output_len, copy_gbps);
  const auto usd = server::UsdPerMillionOutputTokens(s, a.price_per_hour);

  std::printf("model      %s (%s, %s), %s, dtype %s\n", info.name().c_str(),
              info.architecture().c_str(), info.weight_types().c_str(), info.device().c_str(),
              info.dtype().c_str());
  std::printf(
      "load       %d requests, %d in / %d out, concurrency %d: %d ok, %d failed in %.2f s\n",
      a.requests, a.input_len, a.output_len, a.concurrency, s.requests_ok, s.requests_failed,
      s.wall_s);
  std::printf(
      "throughput %.1f output tok/s, %.1f total tok/s, %.3f req/s, mean decode batch %.1f\n",
      s.output_tokens_per_s, s.total_tokens_per_s, s.requests_per_s, s.mean_decode_batch);
  auto line = [](const char* name, const server::Distribution& d) {
    std::printf("%-10s p50 %s  p90 %s  p99 %s  mean %s ms\n", name, Fixed(d.p50, 2).c_str(),
                Fixed(d.p90, 2).c_str(), Fixed(d.p99, 2).c_str(), Fixed(d.mean, 2).c_str());
  };
  line("TTFT", s.ttft_ms);
  line("TPOT", s.tpot_ms);
  line("ITL", s.itl_ms);
  line("e2e", s.e2e_ms);
  if (bandwidth) {
    std::printf("decode     %.3f GB a step, %.1f GB/s", bandwidth->step_bytes / 1e9,
                bandwidth->achieved_gbps);
    if (bandwidth->utilization) {
      std::printf(" = %.1f%% of the %.1f GB/s copy", 100 * *bandwidth->utilization, copy_gbps);
    }
    std::printf("\n");
  }
  if (usd) {
    std::printf("cost       $%.4f per million output tokens at $%.2f/hour\n", *usd,
                a.price_per_hour);
  }
  if (!a.json_path.empty()) {
    nlohmann::json j = {
        {"model",
         {{"name", info.name()},
          {"architecture", info.architecture()},
          {"weight_types", info.weight_types()},
          {"device", info.device()},
          {"dtype", info.dtype()},
          {"weight_bytes", info.weight_bytes()},
          {"kv_bytes_per_token", info.kv_bytes_per_token()}}},
        {"load",
         {{"requests", a.requests},
          {"input_len", a.input_len},
          {"output_len", a.output_len},
          {"concurrency", a.concurrency},
          {"seed", a.seed}}},
        {"requests_ok", s.requests_ok},
        {"requests_failed", s.requests_failed},
        {"wall_s", s.wall_s},
        {"input_tokens", s.input_tokens},
        {"output_tokens", s.output_tokens},
        {"output_tokens_per_s", s.output_tokens_per_s},
        {"total_tokens_per_s", s.total_tokens_per_s},
        {"requests_per_s", s.requests_per_s},
        {"mean_decode_batch", s.mean_decode_batch},
        {"ttft_ms", DistJson(s.ttft_ms)},
        {"tpot_ms", DistJson(s.tpot_ms)},
        {"itl_ms", DistJson(s.itl_ms)},
        {"e2e_ms", DistJson(s.e2e_ms)},
        {"engine", totals.Json()},
        {"copy_gbps", copy_gbps > 0 ? nlohmann::json(copy_gbps) : nlohmann::json(nullptr)},
        {"decode_bandwidth", nullptr},
        {"usd_per_million_output_tokens", usd ? nlohmann::json(*usd) : nlohmann::json(nullptr)},
        {"price_per_hour", a.price_per_hour},
    };
    if (bandwidth) {
      j["decode_bandwidth"] = {
          {"step_bytes", bandwidth->step_bytes},
          {"decode_batch", bandwidth->decode_batch},
          {"achieved_gbps", bandwidth->achieved_gbps},
          {"utilization", bandwidth->utilization ? nlohmann::json(*bandwidth->utilization)
                                                 : nlohmann::json(nullptr)}};
    }
    std::ofstream out(a.json_path);
    out << j.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "error: cannot write %s\n", a.json_path.c_str());
      return 1;
    }
  }
  return s.requests_failed == 0 ? 0 : 1;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "bench", "Throughput, latency and cost per token of a model, in process (no server)");
  auto a = std::make_shared<BenchArgs>();
  AddEngineOptions(cmd, a->config);
  cmd->add_option("--input-len", a->input_len, "prompt tokens per request (128)");
  cmd->add_option("--output-len", a->output_len, "output tokens per request (128)");
  cmd->add_option("--requests", a->requests, "requests in all (default: the concurrency)");
  cmd->add_option("--concurrency", a->concurrency, "requests in flight at once (1)");
  cmd->add_option("--seed", a->seed, "seed of the random prompts and of the sampling (0)");
  cmd->add_option("--temperature", a->sampling.temperature, "0 = greedy (default)");
  cmd->add_option("--top-p", a->sampling.top_p, "nucleus sampling (1 = off)");
  cmd->add_option("--top-k", a->sampling.top_k, "top-k sampling (0 = off)");
  cmd->add_option("--price-per-hour", a->price_per_hour,
                  "USD per hour of the device, for the cost per million output tokens");
  cmd->add_flag("!--no-ceiling", a->measure_ceiling,
                "skip measuring the copy bandwidth (the roofline's ceiling)");
  cmd->add_option("--json", a->json_path, "also write every figure to this JSON file");
  cmd->callback([a, exit_code] { *exit_code = Bench(*a); });
}

}  // namespace hearth::cli
