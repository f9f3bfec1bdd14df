// A runtime that vendors sme2k (only its include/ tree) and runs a conv2d on its own threads.
//
// sme2k owns no threads: an op cuts its work into independent tasks and hands them to the
// runtime's parallel-for through sme2k::ParallelFor. Here the runtime's pool is a fixed set of
// std::threads; the layer is a 3x3 F32 convolution, 32 -> 48 channels on 24 x 24, pad 1, NCHW
// in and out, with bias and ReLU. It runs serially and through the pool: the two outputs must
// be bit-identical (sme2k never splits a sum across tasks), and both must match a plain direct
// convolution within the worst-case f32 rounding bound.
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <sme2k/sme2k.hpp>
#include <thread>
#include <vector>

// The runtime's pool: threads - 1 workers, and the calling thread joins in.
class ThreadPool {
 public:
  explicit ThreadPool(size_t threads) {
    for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  size_t threads() const { return workers_.size() + 1; }

  // Runs task(i) for every i in [0, count), on any thread; returns when all calls are done.
  void parallel_for(size_t count, const std::function<void(size_t)>& task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      count_ = count;
      next_ = 0;
      busy_ = workers_.size();
      ++generation_;
    }
    wake_.notify_all();
    run_items();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
  }

 private:
  void run_items() {
    for (size_t i; (i = next_.fetch_add(1)) < count_;) (*task_)(i);
  }
  void work() {
    for (unsigned long seen = 0;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      lock.unlock();
      run_items();
      lock.lock();
      if (--busy_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(size_t)>* task_ = nullptr;
  size_t count_ = 0, busy_ = 0;
  std::atomic<size_t> next_{0};
  unsigned long generation_ = 0;
  bool stop_ = false;
};

int main() {
  using namespace sme2k;
  Conv2dParams p;  // nn.Conv2d(32, 48, kernel_size=3, padding=1) on a 1 x 32 x 24 x 24 input
  p.in_channels = 32, p.in_height = 24, p.in_width = 24, p.out_channels = 48;
  p.kernel_height = p.kernel_width = 3;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
  const size_t ci_n = p.in_channels, co_n = p.out_channels, h = p.in_height, w = p.in_width;
  const size_t out_count = co_n * p.out_height() * p.out_width();
  std::vector<float> input(ci_n * h * w), weights(co_n * ci_n * 9), bias(co_n);
  unsigned seed = 1;
  for (std::vector<float>* v : {&input, &weights, &bias}) {
    for (float& e : *v) e = (seed = seed * 1103515245u + 12345u) / 2147483648.0f - 1.0f;
  }

  // Load time: pack the PyTorch OIHW weights and the bias once.
  size_t packed_bytes = 0;
  Status s = conv2d_packed_weights_size<F32>(p, &packed_bytes);
  std::vector<float> packed((packed_bytes + 3) / 4);  // packing wants 4-byte alignment
  if (s.ok()) {
    s = conv2d_pack_weights<F32>(p, weights.data(), ConvWeightLayout::kOIHW, bias.data(),
                                 packed.data(), packed_bytes);
  }

  // The bridge: sme2k hands the pool `count` tasks, run with at most pool.threads() at once.
  ThreadPool pool(4);
  size_t tasks_seen = 0;
  auto on_pool = [&](size_t count, ParallelTaskRef task) {
    tasks_seen += count;
    pool.parallel_for(count, task);
  };
  const ParallelFor parallel = make_parallel_for(on_pool, pool.threads());

  // Per inference: a workspace sized for how the op will run (with the pool: one slice per
  // task), then the op. A runtime plans both once per shape.
  GemmEpilogue relu;
  relu.activation = Activation::kRelu;
  const float nan = std::nanf("");
  std::vector<float> serial(out_count, nan), pooled(out_count, nan);
  size_t serial_ws = 0, pooled_ws = 0;
  if (s.ok())
    s = conv2d_workspace_size<F32>(p, TensorLayout::kNCHW, TensorLayout::kNCHW, &serial_ws);
  if (s.ok()) {
    s = conv2d_workspace_size<F32>(p, TensorLayout::kNCHW, TensorLayout::kNCHW, &pooled_ws,
                                   parallel);
  }
  std::vector<unsigned char> workspace(serial_ws > pooled_ws ? serial_ws : pooled_ws);
  if (s.ok()) {
    s = conv2d<F32>(p, input.data(), TensorLayout::kNCHW, packed.data(), packed_bytes,
                    serial.data(), TensorLayout::kNCHW, relu, workspace.data(), serial_ws);
  }
  if (s.ok()) {
    s = conv2d<F32>(p, input.data(), TensorLayout::kNCHW, packed.data(), packed_bytes,
                    pooled.data(), TensorLayout::kNCHW, relu, workspace.data(), pooled_ws,
                    parallel);
  }
  if (!s.ok()) {
    std::fprintf(stderr, "vendoring: %s\n", s.message());
    return 1;
  }
  std::printf("vendoring: conv2d f32 3x3 %zu -> %zu, %zux%zu, pad 1, nchw, bias + relu: %s path\n",
              ci_n, co_n, h, w, path_name(last_used_path()));
  std::printf("vendoring: %zu-thread pool ran %zu tasks; workspace %zu bytes serial, %zu pooled\n",
              pool.threads(), tasks_seen, serial_ws, pooled_ws);
  if (tasks_seen < 2 || std::memcmp(serial.data(), pooled.data(), sizeof(float) * out_count)) {
    std::fprintf(stderr, "vendoring: the pool was not used, or its output is not the serial one\n");
    return 1;
  }

  // The plain loop, in double (exact products). An f32 sum of n terms, in any order, fused or
  // not, is within about n * 2^-24 * (sum of |terms|) of the exact one (n = 9 * 32 products +
  // the bias); ReLU does not widen that. The check allows twice it.
  double worst = 0;  // largest error as a fraction of the bound
  for (size_t co = 0; co < co_n; ++co) {
    for (size_t y = 0; y < h; ++y) {
      for (size_t xo = 0; xo < w; ++xo) {
        double sum = bias[co], magnitude = std::fabs(bias[co]);
        for (size_t ci = 0; ci < ci_n; ++ci) {
          for (size_t k = 0; k < 9; ++k) {
            const size_t iy = y + k / 3, ix = xo + k % 3;  // padded coordinates
            if (iy < 1 || iy > h || ix < 1 || ix > w) continue;
            const double t =
                double{weights[(co * ci_n + ci) * 9 + k]} * input[(ci * h + iy - 1) * w + ix - 1];
            sum += t;
            magnitude += std::fabs(t);
          }
        }
        const double want = sum > 0 ? sum : 0;
        const double bound = (9 * ci_n + 1) * std::ldexp(magnitude, -23);
        const double err = std::fabs(serial[(co * h + y) * w + xo] - want);
        if (!(err <= bound)) {  // NaN (an output never written) fails too
          std::fprintf(stderr, "vendoring: out[%zu][%zu][%zu] = %g, want %g (bound %g)\n", co, y,
                       xo, static_cast<double>(serial[(co * h + y) * w + xo]), want, bound);
          return 1;
        }
        if (bound > 0 && err / bound > worst) worst = err / bound;
      }
    }
  }
  std::printf("vendoring: pooled == serial bit for bit; direct loop within %.3f of the bound\n",
              worst);
  return 0;
}
