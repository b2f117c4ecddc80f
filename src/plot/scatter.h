// Pictures of 2-D point sets: panels of coloured dots side by side, each with a title, axes,
// labelled anchor markers, a legend and lines of text under it (`clapsearch map`). Drawn with
// cairo, one routine for both surfaces: SVG (glyphs as paths, so any viewer shows the same
// picture) and PNG. Nothing here knows embeddings or the index: the service layer says what to
// draw, this layer only draws it.
//
// Deterministic: the same figure gives the same bytes in any process (cairo numbers its SVG
// groups with a counter shared by the whole process; render() renumbers them from 1).
#pragma once
#include <string>
#include <vector>

namespace clap::plot {

// Colours: a fixed palette of kPaletteSize colours that stay apart for the common colour-vision
// deficiencies (Tableau 10 without its grey), and two greys for what has no colour of its own.
inline constexpr int kPaletteSize = 9;
inline constexpr int kOther = -1;  // dark grey: classes beyond the palette
inline constexpr int kNone = -2;   // light grey: no class

struct Dot {
  double x = 0, y = 0;
  int color = kNone;  // 0..kPaletteSize-1, kOther or kNone
};

// A star outlined in its colour, with its text beside it (placed where it overlaps no other
// anchor's text when it can).
struct Anchor {
  double x = 0, y = 0;
  int color = 0;
  std::string text;
};

struct LegendEntry {
  enum Kind { Dots, Star, Text };
  Kind kind = Dots;
  int color = kNone;
  std::string text;
};

struct Panel {
  std::string title;       // bold, elided at the front when too long (a model path's end tells most)
  std::string subtitle;    // one line under it
  std::string x_label, y_label;
  std::vector<Dot> dots;   // drawn greys first, then by colour, so coloured dots stay visible
  std::vector<Anchor> anchors;
  std::vector<LegendEntry> legend;  // right of the plot
  std::vector<std::string> notes;   // lines under the plot
};

struct Figure {
  std::vector<Panel> panels;  // side by side, one size each; both axes share one scale per panel
};

enum class Format { Svg, Png };

// The picture's bytes. Throws clap::Error when cairo fails.
std::string render(const Figure& figure, Format format);

// Panel size in picture units (SVG px; the PNG has one pixel per unit).
inline constexpr int kPanelWidth = 720;
int panel_height(const Panel& panel);

}  // namespace clap::plot
