// WorkerPool: workers start on demand (one per concurrent job, up to the maximum), jobs past
// the maximum wait in order, idle workers retire down to the minimum, Shutdown runs what is
// queued and joins.
#include "server/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <vector>

namespace hearth::server {
namespace {

using std::chrono::milliseconds;

// Waits (up to 5 s) for `done`.
template <typename F>
bool Eventually(F done) {
  for (int i = 0; i < 5000 && !done(); ++i) std::this_thread::sleep_for(milliseconds(1));
  return done();
}

TEST(WorkerPoolTest, StartsAWorkerPerConcurrentJobUpToTheMaximum) {
  WorkerPool pool(0, 8, std::chrono::seconds(30));
  EXPECT_EQ(pool.stats().threads, 0u);
  // Six jobs that each wait for all six to run: they can only finish side by side.
  std::latch all(6);
  std::atomic<int> met{0};
  for (int i = 0; i < 6; ++i)
    pool.Run([&] {
      all.arrive_and_wait();
      met.fetch_add(1);
    });
  EXPECT_TRUE(Eventually([&] { return met.load() == 6 && pool.stats().idle == 6; }));
  EXPECT_EQ(pool.stats().threads, 6u);
  // Idle workers take the next jobs: no new thread.
  std::atomic<int> ran{0};
  for (int i = 0; i < 6; ++i) pool.Run([&] { ran.fetch_add(1); });
  EXPECT_TRUE(Eventually([&] { return ran.load() == 6; }));
  EXPECT_EQ(pool.stats().peak, 6u);
}

TEST(WorkerPoolTest, JobsPastTheMaximumWaitInOrder) {
  WorkerPool pool(0, 2, std::chrono::seconds(30));
  std::atomic<bool> release{false};
  std::mutex mu;
  std::vector<int> order;
  for (int i = 0; i < 2; ++i)
    pool.Run([&] {
      while (!release.load()) std::this_thread::sleep_for(milliseconds(1));
    });
  for (int i = 0; i < 5; ++i)
    pool.Run([&, i] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(i);
    });
  EXPECT_TRUE(Eventually([&] { return pool.stats().queued == 5; }));
  EXPECT_EQ(pool.stats().threads, 2u);
  release = true;
  EXPECT_TRUE(Eventually([&] { return pool.stats().queued == 0 && pool.stats().idle == 2; }));
  pool.Shutdown();
  ASSERT_EQ(order.size(), 5u);
  EXPECT_EQ(pool.stats().peak, 2u);
}

TEST(WorkerPoolTest, TryRunRefusesPastTheQueueBound) {
  WorkerPool pool(0, 1, std::chrono::seconds(30));
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  auto job = [&] {
    while (!release.load()) std::this_thread::sleep_for(milliseconds(1));
    ran.fetch_add(1);
  };
  EXPECT_TRUE(pool.TryRun(job, 2));  // starts the one worker
  EXPECT_TRUE(Eventually([&] { return pool.stats().idle == 0; }));
  EXPECT_TRUE(pool.TryRun(job, 2));
  EXPECT_TRUE(pool.TryRun(job, 2));
  EXPECT_FALSE(pool.TryRun(job, 2));  // two wait already
  EXPECT_TRUE(pool.TryRun(job, 3));
  release = true;
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 4);
}

TEST(WorkerPoolTest, IdleWorkersRetireDownToTheMinimum) {
  WorkerPool pool(2, 16, milliseconds(20));
  std::latch all(10);
  for (int i = 0; i < 10; ++i) pool.Run([&] { all.arrive_and_wait(); });
  EXPECT_TRUE(Eventually([&] { return pool.stats().threads == 2; }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(pool.stats().threads, 2u);
  EXPECT_EQ(pool.stats().peak, 10u);
  // The pool grows again, and the retired workers are joined on the way.
  std::latch again(5);
  for (int i = 0; i < 5; ++i) pool.Run([&] { again.arrive_and_wait(); });
  EXPECT_TRUE(Eventually([&] { return pool.stats().idle == pool.stats().threads; }));
  EXPECT_GE(pool.stats().threads, 2u);
}

TEST(WorkerPoolTest, ShutdownRunsWhatIsQueuedThenJoins) {
  std::atomic<int> ran{0};
  std::vector<int> order;  // one worker: in the order submitted
  {
    WorkerPool pool(0, 1, std::chrono::seconds(30));
    for (int i = 0; i < 20; ++i)
      pool.Run([&, i] {
        std::this_thread::sleep_for(milliseconds(1));
        order.push_back(i);
        ran.fetch_add(1);
      });
    pool.Shutdown();
    EXPECT_EQ(ran.load(), 20);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(order[i], i);
    EXPECT_EQ(pool.stats().threads, 0u);
    pool.Run([&] { ran.fetch_add(1); });  // after shutdown: on this thread
    EXPECT_EQ(ran.load(), 21);
    pool.Shutdown();  // idempotent; the destructor calls it again
  }
}

}  // namespace
}  // namespace hearth::server
