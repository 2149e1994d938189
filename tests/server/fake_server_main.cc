// hearth_fake_server: HearthServer over the fake runner and byte codec, for end-to-end tests of
// the command-line client, the Python example and SIGTERM draining (serve_e2e_test.sh). Prints
// "hearth: serving fake on ADDRESS:PORT" on stdout; SIGTERM drains and exits 0.
// Usage: hearth_fake_server [STEP_DELAY_US [DRAIN_TIMEOUT_MS]]   (0, 20000)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "server/hearth_server.h"
#include "server/termination_signal.h"
#include "tests/server/fake_model_runner.h"
#include "tests/server/fake_text_codec.h"

int main(int argc, char** argv) {
  using namespace hearth;
  server::BlockTerminationSignals();
  server::ServerConfig config;
  config.address = "127.0.0.1";
  config.port = 0;
  config.metrics_port = -1;
  testing::FakeRunnerOptions runner_options;
  // argv[1]: per-step delay in microseconds (so that streams last long enough to drain).
  if (argc > 1) runner_options.step_delay = std::chrono::microseconds(std::atoi(argv[1]));
  auto metrics = std::make_unique<server::Metrics>(config.gpu_price_per_hour, config.max_tenants);
  engine::EngineConfig engine_config;
  auto engine = engine::Engine::Create(engine_config,
                                       std::make_unique<testing::FakeModelRunner>(runner_options),
                                       std::make_shared<testing::FakeTextCodec>(), metrics.get());
  if (!engine.ok()) {
    std::fprintf(stderr, "error: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  v1::ModelInfo info;
  info.set_name("fake");
  auto srv = server::HearthServer::Start(config, std::move(*engine), std::move(metrics), info,
                                         server::ApiKeys());
  if (!srv.ok()) {
    std::fprintf(stderr, "error: %s\n", srv.status().ToString().c_str());
    return 1;
  }
  std::printf("hearth: serving fake on 127.0.0.1:%d\n", (*srv)->port());
  std::fflush(stdout);
  const int drain_timeout_ms = argc > 2 ? std::atoi(argv[2]) : 20000;
  server::WaitForTerminationSignal();
  const engine::DrainResult d = (*srv)->Drain(std::chrono::milliseconds(drain_timeout_ms));
  std::fprintf(stderr, "hearth_fake_server: drained: %d completed, %d aborted\n", d.completed,
               d.aborted);
  (*srv)->Shutdown();
  return 0;
}
