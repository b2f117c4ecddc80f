// JSON Schemas of the OpenSubsonic responses, written from the spec (github
// opensubsonic/open-subsonic-api: openapi/schemas/*.json and the pages under content/en/docs/):
// every property the spec defines for a schema, with its type, its required list, and
// additionalProperties: false, so a member the spec does not define (a typo, our own field)
// fails. Each endpoint's test adds the schema of its answer with `endpoint(name, members)`.
const string = { type: "string" };
const integer = { type: "integer" };
const number = { type: "number" };
const boolean = { type: "boolean" };
// RFC 3339 date-time with a zone, as the spec's "format": "date-time" requires.
const dateTime = { type: "string", format: "date-time" };
const strings = { type: "array", items: string };
const strict = (properties, required = []) => ({ type: "object", properties, required, additionalProperties: false });
const ref = (name) => ({ $ref: `#/definitions/${name}` });
const arrayOf = (name) => ({ type: "array", items: ref(name) });

export const definitions = {
  Error: strict({ code: { type: "integer", enum: [0, 10, 20, 30, 40, 41, 42, 43, 44, 50, 60, 70] }, message: string, helpUrl: string }, ["code"]),
  ItemGenre: strict({ name: string }, ["name"]),
  ItemDate: strict({ year: integer, month: integer, day: integer }),
  RecordLabel: strict({ name: string }, ["name"]),
  DiscTitle: strict({ disc: integer, title: string, coverArt: string }, ["disc", "title"]),
  ReplayGain: strict({ trackGain: number, albumGain: number, trackPeak: number, albumPeak: number, baseGain: number, fallbackGain: number }),
  ArtistID3: strict({
    id: string, name: string, coverArt: string, artistImageUrl: string, albumCount: integer, starred: dateTime,
    musicBrainzId: string, sortName: string, disambiguation: string, roles: strings,
  }, ["id", "name"]),
  Contributor: strict({ role: string, subRole: string, artist: ref("ArtistID3") }, ["role", "artist"]),
  Child: strict({
    id: string, parent: string, isDir: boolean, title: string, album: string, artist: string, track: integer,
    year: integer, genre: string, coverArt: string, size: integer, contentType: string, suffix: string,
    transcodedContentType: string, transcodedSuffix: string, duration: integer, bitRate: integer, bitDepth: integer,
    samplingRate: integer, channelCount: integer, path: string, isVideo: boolean, userRating: { type: "integer", minimum: 1, maximum: 5 },
    averageRating: { type: "number", minimum: 1, maximum: 5 }, playCount: integer, discNumber: integer, created: dateTime,
    starred: dateTime, albumId: string, artistId: string, type: { enum: ["music", "video", "podcast", "audiobook"] },
    mediaType: { enum: ["song", "album", "artist"] }, bookmarkPosition: integer, originalWidth: integer,
    originalHeight: integer, played: dateTime, bpm: integer, comment: string, sortName: string, musicBrainzId: string,
    isrc: strings, genres: arrayOf("ItemGenre"), artists: arrayOf("ArtistID3"), displayArtist: string,
    albumArtists: arrayOf("ArtistID3"), displayAlbumArtist: string, contributors: arrayOf("Contributor"),
    displayComposer: string, moods: strings, replayGain: ref("ReplayGain"), explicitStatus: { enum: ["explicit", "clean", ""] },
    works: { type: "array" }, movements: { type: "array" }, groupings: strings,
  }, ["id", "isDir", "title"]),
  AlbumID3: strict({
    id: string, name: string, version: string, artist: string, artistId: string, coverArt: string, songCount: integer,
    duration: integer, playCount: integer, created: dateTime, starred: dateTime, year: integer, genre: string,
    played: dateTime, userRating: integer, recordLabels: arrayOf("RecordLabel"), musicBrainzId: string,
    genres: arrayOf("ItemGenre"), artists: arrayOf("ArtistID3"), displayArtist: string, releaseTypes: strings,
    moods: strings, sortName: string, originalReleaseDate: ref("ItemDate"), releaseDate: ref("ItemDate"),
    isCompilation: boolean, explicitStatus: { enum: ["explicit", "clean", ""] }, discTitles: arrayOf("DiscTitle"),
  }, ["id", "name", "songCount", "duration", "created"]),
  License: strict({ valid: boolean, email: string, licenseExpires: dateTime, trialExpires: dateTime }, ["valid"]),
  OpenSubsonicExtension: strict({ name: string, versions: { type: "array", items: integer } }, ["name", "versions"]),
  // apiKeyAuthentication's tokenInfo (openapi/schemas/TokenInfo.json)
  TokenInfo: strict({ username: string }, ["username"]),
  // getUser/getUsers (openapi/schemas/User.json, Users.json)
  User: strict({
    username: string, scrobblingEnabled: boolean, maxBitRate: integer, adminRole: boolean, settingsRole: boolean,
    downloadRole: boolean, uploadRole: boolean, playlistRole: boolean, coverArtRole: boolean, commentRole: boolean,
    podcastRole: boolean, streamRole: boolean, jukeboxRole: boolean, shareRole: boolean, videoConversionRole: boolean,
    avatarLastChanged: dateTime, folder: { type: "array", items: integer },
  }, ["username", "scrobblingEnabled", "adminRole", "settingsRole", "downloadRole", "uploadRole", "playlistRole",
      "coverArtRole", "commentRole", "podcastRole", "streamRole", "jukeboxRole", "shareRole", "videoConversionRole"]),
  Users: strict({ user: arrayOf("User") }),
  MusicFolder: strict({ id: integer, name: string }, ["id"]),
  Genre: strict({ value: string, songCount: integer, albumCount: integer }, ["value", "songCount", "albumCount"]),
  SonicMatch: strict({ entry: ref("Child"), similarity: { type: "number", minimum: 0, maximum: 1 } }, ["entry", "similarity"]),
  // sonic (openapi/schemas/SimilarSongs.json, SimilarSongs2.json: a song list, every member optional)
  SimilarSongs: strict({ song: arrayOf("Child") }),
  SimilarSongs2: strict({ song: arrayOf("Child") }),
  // media: the lyrics answers (openapi/schemas/Lyrics.json, LyricsList.json, StructuredLyrics.json,
  // Line.json); songLyrics version 1, so no kind, agents or cueLine.
  Lyrics: strict({ value: string, artist: string, title: string }, ["value"]),
  Line: strict({ value: string, start: number }, ["value"]),
  StructuredLyrics: strict({
    lang: string, synced: boolean, line: arrayOf("Line"), displayArtist: string, displayTitle: string, offset: number,
  }, ["lang", "synced", "line"]),
  LyricsList: strict({ structuredLyrics: arrayOf("StructuredLyrics") }),
  // end media
};

// The envelope (SubsonicResponse): the base members, then either status ok with the endpoint's
// members, or status failed with an error.
const base = { version: string, type: string, serverVersion: string, openSubsonic: boolean };
const baseRequired = ["status", "version", "type", "serverVersion", "openSubsonic"];

export function endpoint(members = {}, required = Object.keys(members)) {
  return {
    type: "object",
    properties: {
      "subsonic-response": strict({ status: { const: "ok" }, ...base, ...members }, [...baseRequired, ...required]),
    },
    required: ["subsonic-response"],
    additionalProperties: false,
    definitions,
  };
}

export const failure = {
  type: "object",
  properties: { "subsonic-response": strict({ status: { const: "failed" }, ...base, error: ref("Error") }, [...baseRequired, "error"]) },
  required: ["subsonic-response"],
  additionalProperties: false,
  definitions,
};

export { strict, ref, arrayOf, string, integer, number, boolean, dateTime, strings };

// browse: the answers of the browse, list and search endpoints (openapi/schemas: MusicFolders,
// Artist, Index, Indexes, Directory, IndexID3, ArtistsID3, ArtistWithAlbumsID3, AlbumID3WithSongs,
// Genres, AlbumList, AlbumList2, Songs, TopSongs, SearchResult2, SearchResult3, ArtistInfo,
// ArtistInfo2, AlbumInfo, ScanStatus). The spec's allOf compositions are written out (the base's
// properties plus the addition), since additionalProperties: false cannot see through allOf.
{
  const d = definitions;
  const withMore = (base, more, required) =>
    strict({ ...d[base].properties, ...more }, [...d[base].required, ...required]);
  const infoBase = { biography: string, musicBrainzId: string, lastFmUrl: string, smallImageUrl: string, mediumImageUrl: string, largeImageUrl: string };
  Object.assign(d, {
    MusicFolders: strict({ musicFolder: arrayOf("MusicFolder") }),
    Artist: strict({ id: string, name: string, artistImageUrl: string, starred: dateTime,
      userRating: { type: "integer", minimum: 1, maximum: 5 }, averageRating: { type: "number", minimum: 1, maximum: 5 } }, ["id", "name"]),
    Index: strict({ name: string, artist: arrayOf("Artist") }, ["name"]),
    Indexes: strict({ ignoredArticles: string, lastModified: integer, shortcut: arrayOf("Artist"), child: arrayOf("Child"), index: arrayOf("Index") },
      ["ignoredArticles", "lastModified"]),
    Directory: strict({ id: string, parent: string, name: string, starred: dateTime, userRating: { type: "integer", minimum: 1, maximum: 5 },
      averageRating: { type: "number", minimum: 1, maximum: 5 }, playCount: integer, child: arrayOf("Child") }, ["id", "name"]),
    IndexID3: strict({ name: string, artist: arrayOf("ArtistID3") }, ["name"]),
    ArtistsID3: strict({ ignoredArticles: string, index: arrayOf("IndexID3") }),
    ArtistWithAlbumsID3: withMore("ArtistID3", { album: arrayOf("AlbumID3") }, ["album"]),
    AlbumID3WithSongs: withMore("AlbumID3", { song: arrayOf("Child") }, ["song"]),
    Genres: strict({ genre: arrayOf("Genre") }),
    AlbumList: strict({ album: arrayOf("Child") }),
    AlbumList2: strict({ album: arrayOf("AlbumID3") }),
    Songs: strict({ song: arrayOf("Child") }),
    TopSongs: strict({ song: arrayOf("Child") }),
    SearchResult2: strict({ artist: arrayOf("Artist"), album: arrayOf("Child"), song: arrayOf("Child") }),
    SearchResult3: strict({ artist: arrayOf("ArtistID3"), album: arrayOf("AlbumID3"), song: arrayOf("Child") }),
    ArtistInfo: strict({ ...infoBase, similarArtist: arrayOf("Artist") }),
    ArtistInfo2: strict({ ...infoBase, similarArtist: arrayOf("ArtistID3") }),
    AlbumInfo: strict({ notes: string, musicBrainzId: string, lastFmUrl: string, smallImageUrl: string, mediumImageUrl: string, largeImageUrl: string }),
    ScanStatus: strict({ scanning: boolean, count: integer }, ["scanning"]),
  });
}
