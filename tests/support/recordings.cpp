#include "support/recordings.h"

namespace clap::test {

std::string song_expression(int family) {
  std::string e = "0";
  for (int s = 0; s < 5; ++s) {
    const std::string f = "(55*pow(2,(" + std::to_string(s) + "*5+mod(floor(t*4)*7,12))/12))";
    std::string section;
    switch (family) {
      case 0: section = "0.5*sin(2*PI*" + f + "*t+2*sin(2*PI*" + f + "*3*t))"; break;
      case 1: section = "0.5*(random(0)*2-1)*pow(1-mod(t*" + std::to_string(s + 1) + ",1),6)"; break;
      default: section = "0.5*sin(2*PI*(100+150*" + std::to_string(s) + ")*mod(t,2)*mod(t,2)*4)"; break;
    }
    e += "+between(t," + std::to_string(s * 9) + "," + std::to_string(s * 9 + 9) + ")*(" + section + ")";
  }
  return e;
}

const std::vector<std::pair<std::string, std::string>>& copy_kinds() {
  static const std::vector<std::pair<std::string, std::string>> kinds = {
      {"flac.flac", ""},
      {"mp3.mp3", "-b:a 128k"},
      {"aac.m4a", "-c:a aac -b:a 160k"},
      {"opus.opus", "-c:a libopus -b:a 96k"},
      {"resampled.wav", "-ar 22050 -ac 1"},
      {"trimmed.flac", "-ss 2"},
      {"faded.mp3", "-af afade=t=in:d=3,afade=t=out:st=40:d=5 -b:a 192k"},
      {"silence3s.ogg", "-af adelay=3000:all=1"},
  };
  return kinds;
}

}  // namespace clap::test
