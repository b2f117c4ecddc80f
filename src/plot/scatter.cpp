#include "plot/scatter.h"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numbers>

#include "core/error.h"
#include "core/utf8.h"

namespace clap::plot {

namespace {

struct Rgb {
  double r, g, b;
};

Rgb hex(unsigned v) { return {((v >> 16) & 0xff) / 255.0, ((v >> 8) & 0xff) / 255.0, (v & 0xff) / 255.0}; }

// Tableau 10 (Maureen Stone's 2016 palette, made to stay apart for colour-vision deficiencies)
// without its grey, which marks "other" and "none" here.
Rgb color_of(int c) {
  static const unsigned palette[kPaletteSize] = {0x4E79A7, 0xF28E2B, 0xE15759, 0x76B7B2, 0x59A14F,
                                                 0xEDC948, 0xB07AA1, 0xFF9DA7, 0x9C755F};
  if (c >= 0 && c < kPaletteSize) return hex(palette[c]);
  return c == kOther ? hex(0x79706E) : hex(0xC8C4C1);
}

const Rgb kInk = hex(0x222222), kMuted = hex(0x666666), kGrid = hex(0xE6E6E6), kFrame = hex(0x999999);

// Layout, in picture units.
constexpr double kPlotLeft = 78, kPlotTop = 70, kPlotSize = 440;
constexpr double kLegendLeft = kPlotLeft + kPlotSize + 22, kLegendRight = kPanelWidth - 10;
constexpr double kLine = 18;
constexpr double kNotesTop = kPlotTop + kPlotSize + 64;
constexpr double kTitleSize = 15, kTextSize = 12, kTickSize = 10;

// Text as cairo takes it: valid UTF-8 (invalid bytes become U+FFFD), control characters as '?'.
std::string clean(const std::string& s) {
  std::string fixed;
  const std::string& valid = sanitize_utf8(s, fixed) ? fixed : s;
  std::string out;
  for (size_t i = 0; i < valid.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(valid[i]);
    if (c < 0x20 || c == 0x7f) out += '?';
    else if (c == 0xc2 && i + 1 < valid.size() && static_cast<unsigned char>(valid[i + 1]) < 0xa0) out += '?', ++i;  // C1
    else out += valid[i];
  }
  return out;
}

// The byte length of the first `n` code points of valid UTF-8.
size_t prefix_bytes(const std::string& s, size_t n) {
  size_t i = 0;
  while (n > 0 && i < s.size()) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80) ++i;
    --n;
  }
  return i;
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

class Painter {
 public:
  explicit Painter(cairo_t* cr) : cr_(cr) {}

  void font(double size, bool bold = false) {
    cairo_select_font_face(cr_, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, size);
  }
  void color(const Rgb& c, double alpha = 1) { cairo_set_source_rgba(cr_, c.r, c.g, c.b, alpha); }
  double width(const std::string& text) {
    cairo_text_extents_t e;
    cairo_text_extents(cr_, text.c_str(), &e);
    return e.x_advance;
  }
  // `text` cut to fit `max_width`, with "…" at the end (or at the front).
  std::string elide(const std::string& raw, double max_width, bool front = false) {
    std::string text = clean(raw);
    if (const size_t n = code_points(text); n > 300)  // longer never fits: measure less
      text = front ? text.substr(prefix_bytes(text, n - 300)) : text.substr(0, prefix_bytes(text, 300));
    if (width(text) <= max_width) return text;
    const size_t n = code_points(text);
    for (size_t keep = n; keep-- > 0;) {
      const std::string cut = front ? "\u2026" + text.substr(prefix_bytes(text, n - keep))
                                    : text.substr(0, prefix_bytes(text, keep)) + "\u2026";
      if (width(cut) <= max_width) return cut;
    }
    return "\u2026";
  }
  void text(double x, double y, const std::string& s) {
    cairo_move_to(cr_, x, y);
    cairo_show_text(cr_, s.c_str());
  }
  // Text with a white halo, readable over dots.
  void halo_text(double x, double y, const std::string& s, const Rgb& ink) {
    cairo_move_to(cr_, x, y);
    cairo_text_path(cr_, s.c_str());
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_width(cr_, 3);
    color(hex(0xFFFFFF), 0.9);
    cairo_stroke_preserve(cr_);
    color(ink);
    cairo_fill(cr_);
  }
  void dot(double x, double y, double r, const Rgb& fill) {
    cairo_new_sub_path(cr_);
    cairo_arc(cr_, x, y, r, 0, 2 * std::numbers::pi);
    color(fill, 0.85);
    cairo_fill_preserve(cr_);
    cairo_set_line_width(cr_, 0.6);
    color(hex(0xFFFFFF));
    cairo_stroke(cr_);
  }
  void star(double x, double y, double r, const Rgb& outline) {
    for (int i = 0; i < 10; ++i) {
      const double a = -std::numbers::pi / 2 + i * std::numbers::pi / 5, rr = i % 2 ? r * 0.45 : r;
      const double px = x + rr * std::cos(a), py = y + rr * std::sin(a);
      i ? cairo_line_to(cr_, px, py) : cairo_move_to(cr_, px, py);
    }
    cairo_close_path(cr_);
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_MITER);
    color(hex(0xFFFFFF));
    cairo_fill_preserve(cr_);
    cairo_set_line_width(cr_, 2.4);
    color(outline);
    cairo_stroke(cr_);
  }
  void line(double x0, double y0, double x1, double y1, const Rgb& c, double w) {
    cairo_move_to(cr_, x0, y0);
    cairo_line_to(cr_, x1, y1);
    cairo_set_line_width(cr_, w);
    color(c);
    cairo_stroke(cr_);
  }
  cairo_t* cr() { return cr_; }

 private:
  cairo_t* cr_;
};

// Tick step: 1, 2 or 5 × 10^k giving about five ticks over `span`.
double tick_step(double span) {
  const double raw = span / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

std::string tick_text(double v, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);  // never "-0.0"
  return s;
}

struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& o) const {  // with a little air between
    return x0 < o.x1 + 4 && o.x0 < x1 + 4 && y0 < o.y1 + 1 && o.y0 < y1 + 1;
  }
};

void draw_panel(Painter& p, const Panel& panel, double left) {
  cairo_t* cr = p.cr();
  // Title and subtitle.
  p.font(kTitleSize, true);
  p.color(kInk);
  p.text(left + 14, 28, p.elide(panel.title, kPanelWidth - 28, true));
  p.font(kTextSize);
  p.color(kMuted);
  p.text(left + 14, 48, p.elide(panel.subtitle, kPanelWidth - 28));

  // One scale for both axes (distances on the map are the distances k-NN 2-D measures),
  // covering every dot and anchor with a margin.
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  bool any = false;
  auto cover = [&](double x, double y) {
    if (!std::isfinite(x) || !std::isfinite(y)) return;
    if (!any) x0 = x1 = x, y0 = y1 = y, any = true;
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  };
  for (const Dot& d : panel.dots) cover(d.x, d.y);
  for (const Anchor& a : panel.anchors) cover(a.x, a.y);
  double span = std::max(x1 - x0, y1 - y0);
  if (!(span > 0)) span = 1;
  span *= 1.1;
  const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const double scale = kPlotSize / span;
  const double px0 = left + kPlotLeft, py0 = kPlotTop;
  auto sx = [&](double x) { return px0 + kPlotSize / 2 + (x - cx) * scale; };
  auto sy = [&](double y) { return py0 + kPlotSize / 2 - (y - cy) * scale; };

  // Grid, ticks, frame, axis labels.
  const double step = tick_step(span);
  p.font(kTickSize);
  for (double t = std::ceil((cx - span / 2) / step) * step; t <= cx + span / 2; t += step) {
    const double x = sx(t);
    p.line(x, py0, x, py0 + kPlotSize, kGrid, 1);
    const std::string s = tick_text(t, step);
    p.color(kMuted);
    p.text(x - p.width(s) / 2, py0 + kPlotSize + 15, s);
  }
  for (double t = std::ceil((cy - span / 2) / step) * step; t <= cy + span / 2; t += step) {
    const double y = sy(t);
    p.line(px0, y, px0 + kPlotSize, y, kGrid, 1);
    const std::string s = tick_text(t, step);
    p.color(kMuted);
    p.text(px0 - 6 - p.width(s), y + 3.5, s);
  }
  cairo_rectangle(cr, px0, py0, kPlotSize, kPlotSize);
  cairo_set_line_width(cr, 1);
  p.color(kFrame);
  cairo_stroke(cr);
  p.font(kTextSize);
  p.color(kInk);
  const std::string xl = p.elide(panel.x_label, kPlotSize);
  p.text(px0 + (kPlotSize - p.width(xl)) / 2, py0 + kPlotSize + 36, xl);
  const std::string yl = p.elide(panel.y_label, kPlotSize);
  cairo_save(cr);
  cairo_translate(cr, px0 - 44, py0 + (kPlotSize + p.width(yl)) / 2);
  cairo_rotate(cr, -std::numbers::pi / 2);
  p.text(0, 0, yl);
  cairo_restore(cr);

  // Dots: greys first, then colours in palette order, each group in the order given.
  cairo_save(cr);
  cairo_rectangle(cr, px0, py0, kPlotSize, kPlotSize);
  cairo_clip(cr);
  for (int c = kNone; c < kPaletteSize; ++c)
    for (const Dot& d : panel.dots)
      if (d.color == c && std::isfinite(d.x) && std::isfinite(d.y)) p.dot(sx(d.x), sy(d.y), 4, color_of(c));
  // Anchors: each text where it overlaps no star and no text placed before. Candidate places,
  // nearest first: beside the star on the right, on the left, above, below, then further up
  // and down on either side (a column of texts when many anchors crowd one spot, each joined
  // to its star by a thin line). Lines first, then the stars, then the texts on top.
  std::vector<Box> taken;
  for (const Anchor& a : panel.anchors) taken.push_back({sx(a.x) - 9, sy(a.y) - 9, sx(a.x) + 9, sy(a.y) + 9});
  p.font(kTextSize, true);
  const Box frame{px0 + 2, py0 + 2, px0 + kPlotSize - 2, py0 + kPlotSize - 2};
  auto inside = [&](const Box& b) { return b.x0 >= frame.x0 && b.x1 <= frame.x1 && b.y0 >= frame.y0 && b.y1 <= frame.y1; };
  struct Placed {
    std::string text;
    Box box;
    bool displaced;
  };
  std::vector<Placed> placed;
  for (const Anchor& a : panel.anchors) {
    const std::string s = p.elide(a.text, 180);
    const double w = p.width(s), x = sx(a.x), y = sy(a.y);
    std::vector<Box> options = {{x + 12, y - 9, x + 12 + w, y + 5}, {x - 12 - w, y - 9, x - 12, y + 5},
                                {x - w / 2, y - 27, x + w / 2, y - 13}, {x - w / 2, y + 13, x + w / 2, y + 27}};
    const size_t beside = options.size();
    for (int step = 1; step <= 30; ++step)
      for (double dy : {-16.0 * step, 16.0 * step}) {
        options.push_back({x + 16, y + dy - 9, x + 16 + w, y + dy + 5});
        options.push_back({x - 16 - w, y + dy - 9, x - 16, y + dy + 5});
      }
    size_t chosen = options.size();
    for (size_t i = 0; i < options.size() && chosen == options.size(); ++i)
      if (inside(options[i]) && std::none_of(taken.begin(), taken.end(), [&](const Box& t) { return t.overlaps(options[i]); }))
        chosen = i;
    for (size_t i = 0; i < options.size() && chosen == options.size(); ++i)  // no free place: the first inside the frame
      if (inside(options[i])) chosen = i;
    if (chosen == options.size()) chosen = 0;
    taken.push_back(options[chosen]);
    placed.push_back({s, options[chosen], chosen >= beside});
  }
  for (size_t i = 0; i < placed.size(); ++i)
    if (placed[i].displaced) {
      const Box& b = placed[i].box;
      const double x = sx(panel.anchors[i].x), y = sy(panel.anchors[i].y);
      p.line(x, y, b.x0 > x ? b.x0 - 2 : b.x1 + 2, (b.y0 + b.y1) / 2, color_of(panel.anchors[i].color), 0.8);
    }
  for (const Anchor& a : panel.anchors) p.star(sx(a.x), sy(a.y), 9, color_of(a.color));
  p.font(kTextSize, true);
  for (const Placed& t : placed) p.halo_text(t.box.x0, t.box.y1 - 3, t.text, kInk);
  cairo_restore(cr);

  // Legend.
  double ly = kPlotTop + 10;
  const double lx = left + kLegendLeft;
  for (const LegendEntry& e : panel.legend) {
    if (e.kind == LegendEntry::Dots) p.dot(lx + 6, ly - 4, 5, color_of(e.color));
    else if (e.kind == LegendEntry::Star) p.star(lx + 6, ly - 4, 7, color_of(e.color));
    p.font(kTextSize);
    p.color(e.kind == LegendEntry::Text ? kMuted : kInk);
    const double tx = e.kind == LegendEntry::Text ? lx : lx + 18;
    p.text(tx, ly, p.elide(e.text, left + kLegendRight - tx));
    ly += kLine;
  }

  // Notes under the plot.
  p.font(kTextSize);
  p.color(kInk);
  double ny = kNotesTop;
  for (const std::string& note : panel.notes) {
    p.text(left + 14, ny, p.elide(note, kPanelWidth - 28));
    ny += kLine;
  }
}

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// cairo names each drawing surface in its SVG "surfaceN" with a counter shared by the whole
// process, so a second picture in one process would differ from the first. Renumbered from 1 in
// order of appearance (ids and references alike).
std::string stable_surface_ids(const std::string& svg) {
  static const std::string word = "surface";
  std::map<std::string, std::string> renamed;
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = svg.find(word, pos)) != std::string::npos;) {
    size_t end = hit + word.size();
    while (end < svg.size() && svg[end] >= '0' && svg[end] <= '9') ++end;
    const bool id = end > hit + word.size() && hit > 0 && (svg[hit - 1] == '"' || svg[hit - 1] == '#');
    out.append(svg, pos, hit - pos);
    if (id) {
      const std::string number = svg.substr(hit + word.size(), end - hit - word.size());
      auto it = renamed.emplace(number, std::to_string(renamed.size() + 1)).first;
      out += word + it->second;
    } else {
      out.append(svg, hit, end - hit);
    }
    pos = end;
  }
  out.append(svg, pos, std::string::npos);
  return out;
}

void check(cairo_status_t status, const char* what) {
  if (status != CAIRO_STATUS_SUCCESS) throw Error(std::string("drawing the picture failed: ") + what + ": " + cairo_status_to_string(status));
}

}  // namespace

int panel_height(const Panel& panel) {
  const double notes = kNotesTop + static_cast<double>(panel.notes.size()) * kLine;
  const double legend = kPlotTop + 10 + static_cast<double>(panel.legend.size()) * kLine + 10;
  return static_cast<int>(std::ceil(std::max(notes, legend)));
}

std::string render(const Figure& figure, Format format) {
  const int n = std::max<int>(1, static_cast<int>(figure.panels.size()));
  int height = panel_height(Panel{});
  for (const Panel& p : figure.panels) height = std::max(height, panel_height(p));
  const int width = n * kPanelWidth;

  std::string bytes;
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      format == Format::Svg ? cairo_svg_surface_create_for_stream(append, &bytes, width, height)
                            : cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height),
      cairo_surface_destroy);
  check(cairo_surface_status(surface.get()), "creating the surface");
  if (format == Format::Svg) cairo_svg_surface_set_document_unit(surface.get(), CAIRO_SVG_UNIT_PX);
  {
    std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface.get()), cairo_destroy);
    Painter p(cr.get());
    cairo_set_source_rgb(cr.get(), 1, 1, 1);
    cairo_paint(cr.get());
    for (size_t i = 0; i < figure.panels.size(); ++i) {
      if (i > 0) p.line(i * kPanelWidth + 0.5, 12, i * kPanelWidth + 0.5, height - 12, kGrid, 1);
      draw_panel(p, figure.panels[i], static_cast<double>(i) * kPanelWidth);
    }
    check(cairo_status(cr.get()), "drawing");
  }
  if (format == Format::Png) check(cairo_surface_write_to_png_stream(surface.get(), append, &bytes), "writing the PNG");
  cairo_surface_finish(surface.get());
  check(cairo_surface_status(surface.get()), "finishing the picture");
  return format == Format::Svg ? stable_surface_ids(bytes) : bytes;
}

}  // namespace clap::plot
