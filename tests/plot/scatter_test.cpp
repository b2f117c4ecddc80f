// The picture layer on its own: SVG and PNG from one drawing routine, the same bytes for the
// same figure within a process and across processes (cairo's process-wide surface counter is
// renumbered), the PNG's size, and text that cairo would refuse (invalid UTF-8, control
// characters) drawn instead of failing.
#include "plot/scatter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace clap::plot {
namespace {

Figure sample(int panels) {
  Figure f;
  for (int p = 0; p < panels; ++p) {
    Panel panel;
    panel.title = "/models/panel-" + std::to_string(p);
    panel.subtitle = "12 tracks, coloured by genre";
    panel.x_label = "PC1 (40.0 % of the variance)";
    panel.y_label = "PC2 (20.0 % of the variance)";
    for (int i = 0; i < 12; ++i) panel.dots.push_back({0.1 * i, 0.05 * (i % 5) - p * 0.01, i % 3});
    panel.dots.push_back({0.5, 0.5, kNone});
    panel.dots.push_back({0.4, -0.2, kOther});
    panel.anchors = {{0.2, 0.1, 0, "ambient"}, {0.21, 0.11, 1, "noise"}, {0.9, 0.0, 2, "tones"}};
    panel.legend = {{LegendEntry::Dots, 0, "ambient (4)"}, {LegendEntry::Dots, 1, "noise (4)"},
                    {LegendEntry::Dots, 2, "tones (4)"},   {LegendEntry::Dots, kNone, "(none) (1)"},
                    {LegendEntry::Star, kOther, "class name as text"}};
    panel.notes = {"k-NN accuracy: 0.500", "chance 0.333"};
    f.panels.push_back(panel);
  }
  return f;
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

TEST(Scatter, SvgIsOneDocumentAndTheSameBytesEveryTime) {
  const std::string a = render(sample(2), Format::Svg);
  const std::string b = render(sample(2), Format::Svg);
  EXPECT_EQ(a, b);  // cairo's surface ids differ between the two; renumbered, they do not
  ASSERT_EQ(a.rfind("<?xml", 0), 0u);
  EXPECT_NE(a.find("<svg"), std::string::npos);
  EXPECT_NE(a.find("width=\"1440px\""), std::string::npos) << a.substr(0, 400);
  EXPECT_NE(a.find("id=\"surface1\""), std::string::npos);
  EXPECT_EQ(a.find("id=\"surface2\""), std::string::npos);
  const size_t end = a.find("</svg>");
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(a.find_first_not_of(" \r\n", end + 6), std::string::npos);  // nothing after the document
}

TEST(Scatter, PngHasTheSignatureAndOnePixelPerUnit) {
  const Figure f = sample(3);
  const std::string png = render(f, Format::Png);
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(png, 16), 3u * kPanelWidth);
  EXPECT_EQ(be32(png, 20), static_cast<uint32_t>(panel_height(f.panels[0])));
  EXPECT_EQ(render(f, Format::Png), png);
}

TEST(Scatter, TextCairoWouldRefuseIsDrawnAnyway) {
  Figure f = sample(1);
  f.panels[0].title = std::string("bad \xff\xfe bytes \x1b[31m and a very long name ") + std::string(400, 'x');
  f.panels[0].anchors[0].text = "\xc3";  // a cut UTF-8 sequence
  f.panels[0].legend[0].text = std::string("tab\there \xc2\x85 next line");
  EXPECT_NO_THROW(render(f, Format::Svg));
  EXPECT_NO_THROW(render(f, Format::Png));
}

TEST(Scatter, EmptyPanelsAndCoincidentPointsStillDraw) {
  Figure f;
  f.panels.push_back(Panel{});
  Panel same;
  same.dots = {{1, 1, 0}, {1, 1, 1}};
  f.panels.push_back(same);
  const std::string svg = render(f, Format::Svg);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace clap::plot
