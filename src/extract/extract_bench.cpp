// `distclust bench extract` measurements (extract_bench.h).
#include "extract/extract_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/json.h"
#include "io/replace_rule.h"
#include "kernels/sgemm_rate.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/runtime.h"

namespace distclust {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// (a): the backbone on one batch of the source's first images, preprocessed
// and held in memory, after warm-up. Real images, not random numbers: a
// trained network's speed depends on the values (denormals; random inputs
// ran ResNet-20 1.1-3x slower here).
double forward_rate(Backbone& net, const ImageSource& src, const ExtractParams& p, const ExtractModel& m, int iters) {
  const int64_t batch = p.batch;
  std::vector<float> x(static_cast<size_t>(batch * m.row_floats)), out(static_cast<size_t>(batch * net.dim()));
  for (int64_t i = 0; i < batch; ++i) {
    DecodeResult d = load_image(src, i % src.size(), DecodeParams{p.max_pixels});
    if (d.ok) m.prep(d.rgb, &x[size_t(i * m.row_floats)]);
  }
  for (int i = 0; i < 3; ++i) net.forward(x.data(), batch, out.data());
  auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) net.forward(x.data(), batch, out.data());
  return double(batch) * iters / since(t0);
}

// (b): the decode pool alone; the consumer only takes and gives back batches.
double decode_rate(const ImageSource& src, const ExtractParams& p, const ExtractModel& m, int64_t rows, int threads) {
  DecodePool pool(src, DecodeParams{p.max_pixels}, m.prep, m.row_floats, plan_batches({{0, rows}}, p.batch), threads,
                  p.queue_batches);
  auto t0 = Clock::now();
  for (int64_t k = 0; k < pool.size(); ++k) {
    pool.next();
    pool.release();
  }
  return double(rows) / since(t0);
}

}  // namespace

void BenchExtractParams::validate() const {
  require(iters >= 1, "bench_extract.iters is ", iters, " (expected >= 1)");
  require(decode_images >= 0, "bench_extract.decode_images is ", decode_images, " (expected >= 0; 0 = all)");
}

std::string BenchExtractResult::json() const {
  // {"bench": "extract": the head cli/bench_output.h knows its results by.
  return fmt("{\"bench\": \"extract\", \"images\": ", images, ", \"cores\": ", cores, ", \"decode_threads\": ", decode_threads,
             ", \"model_threads\": ", model_threads, ", \"forward_ips\": ", forward,
             ", \"decode_all_cores_ips\": ", decode_all_cores, ", \"decode_pipeline_threads_ips\": ", decode_pipeline,
             ", \"extract_ips\": ", extract, ", \"extract_wall_ips\": ", extract_wall, ", \"ratio\": ", ratio,
             ", \"peak_rss_bytes\": ", peak_rss_bytes, ", \"backbone\": ", json::quote(backbone), "}");
}

BenchExtractResult bench_extract(const ExtractParams& p, const BenchExtractParams& b, Communicator& comm,
                                 const BackboneLoader& loader) {
  p.validate();
  b.validate();
  require(comm.size() == 1, "bench extract runs on one rank (got ", comm.size(),
          "); time `distclust extract` under mpirun for multi-rank rates");
  // Its extract run writes p.out like the stage does: the stage's overwrite
  // rule, checked before any timing (it once replaced a user's features.h5).
  require_replaceable("bench extract", p.out, p.force, comm);
  BenchExtractResult r;
  std::unique_ptr<ImageSource> src = open_source(source_params(p));
  r.images = src->size();
  require(r.images >= 1, "bench extract: ", src->describe(), " holds no images");
  r.cores = std::max(1, compute_threads());
  {
    ExtractModel m = make_extract_model(p, *src, comm, loader, r.cores);
    r.decode_threads = m.decode_threads;
    r.model_threads = m.model_threads;
    r.backbone = m.net->describe();
    const int64_t rows = b.decode_images > 0 ? std::min(b.decode_images, r.images) : r.images;
    r.forward = forward_rate(*m.net, *src, p, m, b.iters);
    log::info("bench extract: forward only: ", r.forward, " images/s (batch ", p.batch, ", ", m.model_threads,
              " threads)");
    r.decode_all_cores = decode_rate(*src, p, m, rows, r.cores);
    log::info("bench extract: decode + preprocess only: ", r.decode_all_cores, " images/s (", r.cores, " threads)");
    r.decode_pipeline = m.decode_threads == r.cores ? r.decode_all_cores : decode_rate(*src, p, m, rows, m.decode_threads);
  }
  ExtractParams q = p;
  q.resume = false;
  q.progress_seconds = 0;
  auto t0 = Clock::now();
  ExtractSummary s = run_extract(q, comm, loader, {"bench_extract: {}\n", "bench"});
  r.extract_wall = double(s.computed) / since(t0);
  r.extract = s.images_per_second;
  r.ratio = r.extract / std::min(r.forward, r.decode_all_cores);
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace distclust
