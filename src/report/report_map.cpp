#include "report/report_map.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "comm/local_comm.h"
#include "core/json.h"
#include "distclust/error.h"
#include "distclust/rng.h"
#include "io/h5store.h"
#include "report/html.h"
#include "report/clustering.h"
#include "report/html.h"
#include "report/report_model.h"

namespace fs = std::filesystem;

namespace distclust::report {
namespace {

constexpr uint64_t kMapKey = 0x6d6170;  // "map"

/// A JSON string safe inside <script>: "</script>" cannot end the element.
std::string js_string(const std::string& s) {
  std::string q = json::quote(s), out;
  for (char c : q) out += c == '<' ? std::string("\\u003c") : std::string(1, c);
  return out;
}

const char* kMapScript = R"JS(
(function(){
const M=MAP, cv=document.getElementById('map-canvas'), tip=document.getElementById('map-tip');
const g=cv.getContext('2d'), W=cv.width, H=cv.height, n=M.c.length;
const col=c=>c<0?'#bbb':'hsl('+((c*137.508)%360)+','+(55+(c%3)*15)+'%,'+(42+(c%4)*6)+'%)';
let only=-1;
function draw(){g.clearRect(0,0,W,H);
 for(let i=0;i<n;i++){if(only>=0&&M.c[i]!==only)continue;g.fillStyle=col(M.c[i]);g.fillRect(M.x[i]*W/1000-1.5,M.y[i]*H/1000-1.5,3,3);}
 if(only>=0){g.fillStyle='rgba(120,120,120,.15)';for(let i=0;i<n;i++)if(M.c[i]!==only)g.fillRect(M.x[i]*W/1000-1,M.y[i]*H/1000-1,2,2);}}
const cell=8, grid=new Map();
for(let i=0;i<n;i++){const k=Math.floor(M.x[i]*W/1000/cell)+','+Math.floor(M.y[i]*H/1000/cell);if(!grid.has(k))grid.set(k,[]);grid.get(k).push(i);}
cv.addEventListener('mousemove',e=>{const r=cv.getBoundingClientRect(),px=(e.clientX-r.left)*W/r.width,py=(e.clientY-r.top)*H/r.height;
 let best=-1,bd=49;const cx=Math.floor(px/cell),cy=Math.floor(py/cell);
 for(let a=cx-1;a<=cx+1;a++)for(let b=cy-1;b<=cy+1;b++){const l=grid.get(a+','+b);if(!l)continue;
  for(const i of l){if(only>=0&&M.c[i]!==only)continue;const dx=M.x[i]*W/1000-px,dy=M.y[i]*H/1000-py,d=dx*dx+dy*dy;if(d<bd){bd=d;best=i;}}}
 if(best<0){tip.style.display='none';cv.title='';return;}
 // Paths come URL-escaped (as the thumbnails' links: '#', '?', bytes that
 // are not UTF-8); shown decoded where they decode.
 const u=M.f[best]?M.dirs[M.f[best][0]]+'/'+M.f[best][1]:'';let p=u;try{p=decodeURIComponent(u);}catch(x){}
 // Built as nodes, text as text: a path or class name is never read as HTML.
 tip.textContent='';
 if(u){const im=document.createElement('img');im.src='file://'+u;im.alt='';tip.appendChild(im);}
 const t=document.createElement('div');t.textContent='row '+M.r[best]+' \u00b7 cluster '+M.c[best]+
  (M.l[best]>=0?' \u00b7 '+M.names[M.l[best]]:'');tip.appendChild(t);
 const q=document.createElement('div');q.className='path';q.textContent=p;tip.appendChild(q);cv.title=p;
 tip.style.display='block';tip.style.left=(e.clientX-r.left+14)+'px';tip.style.top=(e.clientY-r.top+14)+'px';});
cv.addEventListener('mouseleave',()=>{tip.style.display='none';});
for(const s of document.querySelectorAll('#map-legend .sw')){const c=+s.dataset.c;s.style.background=col(c);
 s.addEventListener('click',()=>{only=only===c?-1:c;draw();});}
draw();
// #map-selftest: hover the first point once (tests read the tooltip from the DOM).
if(location.hash==='#map-selftest'&&n){const r=cv.getBoundingClientRect();
 cv.dispatchEvent(new MouseEvent('mousemove',{clientX:r.left+M.x[0]*r.width/1000,clientY:r.top+M.y[0]*r.height/1000}));}
})();
)JS";

/// Paths as (folder index, file name) over a table of folders: 100,000 paths
/// of a few folders cost the names, not the folders again and again. Both
/// URL-escaped (url_path_escape): encodeURI in the page left '#' and '?',
/// which cut the image's URL short, and JSON cannot hold bytes that are not
/// UTF-8.
void paths_json(std::ostringstream& o, const std::vector<std::string>& paths) {
  std::map<std::string, int> dir_id;
  std::vector<std::string> dirs;
  std::ostringstream f;
  f << "[";
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i) f << ",";
    if (paths[i].empty()) {
      f << "0";
      continue;
    }
    const fs::path p(paths[i]);
    const std::string d = p.parent_path().string();
    auto it = dir_id.emplace(d, int(dirs.size())).first;
    if (it->second == int(dirs.size())) dirs.push_back(d);
    f << "[" << it->second << "," << js_string(url_path_escape(p.filename().string())) << "]";
  }
  f << "]";
  o << "dirs:[";
  for (size_t i = 0; i < dirs.size(); ++i) o << (i ? "," : "") << js_string(url_path_escape(dirs[i]));
  o << "],f:" << f.str();
}

}  // namespace

std::vector<int64_t> map_sample_rows(const Clustering& cl, int64_t max_rows, int64_t seed) {
  std::vector<std::pair<uint64_t, int64_t>> keyed;
  for (int64_t i = 0; i < cl.n; ++i)
    if (cl.assign[i] >= 0) keyed.emplace_back(key_hash(uint64_t(seed), kMapKey, uint64_t(i)), i);
  if (int64_t(keyed.size()) > max_rows) {
    std::nth_element(keyed.begin(), keyed.begin() + max_rows, keyed.end());
    keyed.resize(size_t(max_rows));
  }
  std::vector<int64_t> rows;
  for (const auto& k : keyed) rows.push_back(k.second);
  std::sort(rows.begin(), rows.end());
  return rows;
}

void map_from_points(ReportModel& m, const Clustering& cl, const std::vector<float>& xy,
                     const std::vector<int64_t>& rows, const std::string& source) {
  MapView& v = m.map;
  v.present = !rows.empty();
  v.source = source;
  v.rows_total = cl.n;
  v.xy = xy;
  v.rows = rows;
  v.cluster.clear();
  v.labels.clear();
  for (int64_t r : rows) {
    v.cluster.push_back(cl.assign[r]);
    v.labels.push_back(!cl.labels.empty() && cl.labels[r] >= 0 ? cl.class_name(cl.labels[r]) : "");
  }
  v.paths = cl.has_paths ? image_paths(cl.features, rows) : std::vector<std::string>(rows.size());
  for (std::string& p : v.paths)  // FILE:INDEX rows have no image file to show
    p = p.empty() || is_array_row_id(p) ? std::string() : fs::absolute(p).lexically_normal().string();
}

void map_from_file(ReportModel& m, const Clustering& cl, const std::string& coords, const std::vector<int64_t>& rows) {
  LocalCommunicator self;
  H5Reader r(coords, self);
  const DatasetInfo fi = r.info("/features");
  require(fi.shape.size() == 2 && fi.shape[1] == 2 && fi.shape[0] == cl.n, "report: map ", coords, ": /features is ",
          fi.describe(), ", expected [", cl.n, " x 2] (a 2-D embedding of ", cl.features, ")");
  std::vector<float> xy;
  xy.reserve(rows.size() * 2);
  for (size_t a = 0; a < rows.size();) {  // runs of consecutive rows, one read each
    size_t b = a + 1;
    while (b < rows.size() && rows[b] == rows[b - 1] + 1) ++b;
    const std::vector<float> part = r.read_rows<float>("/features", RowRange{rows[a], rows[b - 1] + 1});
    xy.insert(xy.end(), part.begin(), part.end());
    a = b;
  }
  // One Inf coordinate made the scale infinite and drew every other point on
  // one pixel (a NaN one at the corner), under "all rows placed".
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < rows.size(); ++i)
    if (!std::isfinite(xy[2 * i]) || !std::isfinite(xy[2 * i + 1]))
      if (bad++ == 0) first = rows[i];
  require(bad == 0, "report: map ", coords, ": /features row ", first, " holds NaN or Inf (", bad,
          " such rows among those shown): a map needs finite coordinates");
  map_from_points(m, cl, xy, rows, coords);
}

void render_map(std::ostringstream& o, const ReportModel& m) {
  const MapView& v = m.map;
  o << "<section id=\"map\"><h2>Map</h2>";
  if (!v.present) {
    o << "<p class=\"note\">" << html_escape(v.note.empty() ? "no 2-D map" : v.note) << "</p></section>";
    return;
  }
  const int64_t n = int64_t(v.rows.size());
  o << "<p class=\"note\">" << n << " of " << v.rows_total << " rows placed by " << html_escape(v.source)
    << (v.note.empty() ? "" : "; " + html_escape(v.note))
    << ". Colour: cluster. Hover a point for its image and path; click a cluster below to show it alone.</p>"
    << "<div class=\"mapbox\" style=\"position:relative\"><canvas id=\"map-canvas\" width=\"960\" height=\"720\" "
       "style=\"width:100%;max-width:960px;border:1px solid #ddd\"></canvas><div id=\"map-tip\" style=\"display:none;"
       "position:absolute;background:#fff;border:1px solid #999;padding:4px;font-size:12px;max-width:320px;"
       "pointer-events:none\"></div></div><div id=\"map-legend\">";
  std::map<int64_t, int64_t> count;
  for (int64_t c : v.cluster) ++count[c];
  for (const auto& [c, k] : count)
    if (c >= 0)
      o << "<span class=\"sw\" data-c=\"" << c << "\" title=\"cluster " << c << ": " << k
        << " points\" style=\"display:inline-block;min-width:1.6em;margin:1px;padding:0 3px;color:#fff;"
           "font-size:11px;cursor:pointer;text-align:center\">"
        << c << "</span>";
  o << "</div>";
  // Coordinates scaled to 0..1000 (integers: a few bytes a point).
  float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 2; ++a) {
      lo[a] = std::min(lo[a], v.xy[size_t(2 * i + a)]);
      hi[a] = std::max(hi[a], v.xy[size_t(2 * i + a)]);
    }
  auto scaled = [&](int64_t i, int a) {
    const float span = hi[a] > lo[a] ? hi[a] - lo[a] : 1.f;
    const double t = 20 + 960 * double(v.xy[size_t(2 * i + a)] - lo[a]) / span;
    return int(std::lround(a == 1 ? 1000 - t : t));  // y up
  };
  std::map<std::string, int> name_id;
  std::vector<std::string> names;
  o << "<script>const MAP={x:[";
  for (int64_t i = 0; i < n; ++i) o << (i ? "," : "") << scaled(i, 0);
  o << "],y:[";
  for (int64_t i = 0; i < n; ++i) o << (i ? "," : "") << scaled(i, 1);
  o << "],c:[";
  for (int64_t i = 0; i < n; ++i) o << (i ? "," : "") << v.cluster[size_t(i)];
  o << "],r:[";
  for (int64_t i = 0; i < n; ++i) o << (i ? "," : "") << v.rows[size_t(i)];
  o << "],l:[";
  for (int64_t i = 0; i < n; ++i) {
    const std::string& l = v.labels[size_t(i)];
    int id = -1;
    if (!l.empty()) {
      id = name_id.emplace(l, int(names.size())).first->second;
      if (id == int(names.size())) names.push_back(l);
    }
    o << (i ? "," : "") << id;
  }
  o << "],names:[";
  for (size_t i = 0; i < names.size(); ++i) o << (i ? "," : "") << js_string(names[i]);
  o << "],";
  paths_json(o, v.paths);
  o << "};" << kMapScript << "</script></section>";
}

}  // namespace distclust::report
