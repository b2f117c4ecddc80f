// The XML form of the answers, checked against their JSON form by the Subsonic XSD's rules
// (subsonic-rest-api 1.16.1): lib.mjs's client asks every read-only endpoint a test calls a second
// time with f=xml, and compareForms checks the two forms carry the same members, each where the
// XSD puts it: a scalar member as an attribute, except the few the XSD declares as child elements
// with text (ArtistInfoBase's biography..., AlbumInfo's notes...: XSD_TEXT_ELEMENTS, written here
// from the XSD, not taken from the server), an object member as one child element, an array as
// one element per item, and a member named "value" as the element's own text.

// element name -> its scalar members that are child elements with text (the XSD's xs:element of
// type xs:string inside ArtistInfoBase and AlbumInfo).
export const XSD_TEXT_ELEMENTS = {
  artistInfo: ["biography", "musicBrainzId", "lastFmUrl", "smallImageUrl", "mediumImageUrl", "largeImageUrl"],
  artistInfo2: ["biography", "musicBrainzId", "lastFmUrl", "smallImageUrl", "mediumImageUrl", "largeImageUrl"],
  albumInfo: ["notes", "musicBrainzId", "lastFmUrl", "smallImageUrl", "mediumImageUrl", "largeImageUrl"],
};

// A strict parser for what a server writes: one root element, attributes in double or single
// quotes, text, the five named entities and numeric references, comments and the XML declaration.
// Throws on anything malformed (an unescaped & or <, a mismatched end tag, a repeated attribute).
export function parseXml(text) {
  let i = 0;
  const fail = (why) => { throw new Error(`XML: ${why} at offset ${i}: ${JSON.stringify(text.slice(Math.max(0, i - 40), i + 40))}`); };
  const decode = (s) => s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&|</g, (m, ref) => {
    if (m === "&" || m === "<") fail(`an unescaped ${m} in text`);
    if (ref[0] === "#") return String.fromCodePoint(ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10));
    const named = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[ref];
    if (named === undefined) fail(`an unknown entity &${ref};`);
    return named;
  });
  const skipMisc = () => {
    for (;;) {
      while (/\s/.test(text[i] ?? "")) i++;
      if (text.startsWith("<?", i)) { const end = text.indexOf("?>", i); if (end < 0) fail("an unterminated <?"); i = end + 2; }
      else if (text.startsWith("<!--", i)) { const end = text.indexOf("-->", i); if (end < 0) fail("an unterminated comment"); i = end + 3; }
      else return;
    }
  };
  const name = () => {
    const m = /^[A-Za-z_][\w.:-]*/.exec(text.slice(i, i + 200));
    if (!m) fail("a name expected");
    i += m[0].length;
    return m[0];
  };
  const element = () => {
    if (text[i] !== "<") fail("< expected");
    i++;
    const node = { name: name(), attributes: {}, children: [], text: "" };
    for (;;) {
      while (/\s/.test(text[i] ?? "")) i++;
      if (text.startsWith("/>", i)) { i += 2; return node; }
      if (text[i] === ">") { i++; break; }
      const key = name();
      if (key in node.attributes) fail(`attribute ${key} given twice`);
      if (text[i] !== "=") fail("= expected");
      const quote = text[++i];
      if (quote !== '"' && quote !== "'") fail("a quoted value expected");
      const end = text.indexOf(quote, i + 1);
      if (end < 0) fail("an unterminated attribute value");
      node.attributes[key] = decode(text.slice(i + 1, end));
      i = end + 1;
    }
    for (;;) {
      const lt = text.indexOf("<", i);
      if (lt < 0) fail(`no end tag for <${node.name}>`);
      node.text += decode(text.slice(i, lt));
      i = lt;
      if (text.startsWith("</", i)) {
        i += 2;
        if (name() !== node.name) fail(`the end tag does not close <${node.name}>`);
        while (/\s/.test(text[i] ?? "")) i++;
        if (text[i++] !== ">") fail("> expected");
        return node;
      }
      if (text.startsWith("<!--", i)) { const end = text.indexOf("-->", i); if (end < 0) fail("an unterminated comment"); i = end + 3; continue; }
      node.children.push(element());
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== text.length) fail("content after the root element");
  return root;
}

function sameScalar(jsonValue, xmlText) {
  if (typeof jsonValue === "number") return Number(xmlText) === jsonValue;
  return String(jsonValue) === xmlText;
}

// The differences between the JSON form of an element (`json`, a parsed object) and its XML form
// (`xml`, from parseXml), by the XSD's rules; [] when they agree. `shapeOnly`: for answers that
// differ between two requests (random songs, now playing), only where each member is (attribute
// or element) is checked, not values or counts.
export function compareForms(json, xml, path = xml.name, shapeOnly = false) {
  const problems = [];
  const textMembers = new Set(XSD_TEXT_ELEMENTS[xml.name] ?? []);
  const seenChildren = new Set();
  for (const [key, value] of Object.entries(json)) {
    const where = `${path}.${key}`;
    if (key === "value" && (value === null || typeof value !== "object")) {
      if (xml.children.length === 0 && !shapeOnly && !sameScalar(value, xml.text)) problems.push(`${where}: the element's text is ${JSON.stringify(xml.text)}, JSON has ${JSON.stringify(value)}`);
      if (xml.children.length === 0 && shapeOnly && xml.text === "" && value !== "") problems.push(`${where}: the element has no text`);
      continue;
    }
    const children = xml.children.filter((c) => c.name === key);
    if (value !== null && typeof value === "object") {
      seenChildren.add(key);
      if (key in xml.attributes) problems.push(`${where}: an attribute, but the XSD makes it an element`);
      const items = Array.isArray(value) ? value : [value];
      if (!shapeOnly && children.length !== items.length) { problems.push(`${where}: ${children.length} <${key}> elements, JSON has ${items.length}`); continue; }
      for (let k = 0; k < Math.min(items.length, children.length); k++) {
        const item = items[k];
        if (item !== null && typeof item === "object") problems.push(...compareForms(item, children[k], `${where}[${k}]`, shapeOnly));
        else if (!shapeOnly && !sameScalar(item, children[k].text)) problems.push(`${where}[${k}]: text ${JSON.stringify(children[k].text)}, JSON has ${JSON.stringify(item)}`);
        else if (Object.keys(children[k].attributes).length || children[k].children.length) problems.push(`${where}[${k}]: a scalar item with attributes or children`);
      }
    } else if (textMembers.has(key)) {
      seenChildren.add(key);
      if (key in xml.attributes) problems.push(`${where}: an attribute, but the XSD makes it a child element with text`);
      if (children.length !== 1) problems.push(`${where}: ${children.length} <${key}> elements, the XSD has one with text`);
      else if (!shapeOnly && children[0].text !== String(value)) problems.push(`${where}: <${key}> text ${JSON.stringify(children[0].text)}, JSON has ${JSON.stringify(value)}`);
    } else {
      if (children.length) problems.push(`${where}: a child element, but the XSD makes it an attribute`);
      if (!(key in xml.attributes)) problems.push(`${where}: no such attribute`);
      else if (!shapeOnly && !sameScalar(value, xml.attributes[key])) problems.push(`${where}: attribute ${JSON.stringify(xml.attributes[key])}, JSON has ${JSON.stringify(value)}`);
    }
  }
  if (!shapeOnly) {
    for (const a of Object.keys(xml.attributes)) if (!(a in json) && !(path === "subsonic-response" && a === "xmlns")) problems.push(`${path}: attribute ${a} is not in the JSON form`);
    for (const c of xml.children) if (!seenChildren.has(c.name)) problems.push(`${path}: element <${c.name}> is not in the JSON form`);
  }
  return problems;
}
