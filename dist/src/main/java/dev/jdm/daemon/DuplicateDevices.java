package dev.jdm.daemon;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds devices declared twice in one configuration file. HOCON merges a repeated key silently
 * (the later {@code table} wins), and typesafe-config keeps no trace of the first, so the file's
 * text is scanned for the keys it assigns: a {@code jdm.devices.NAME.table} assigned twice is a
 * device named twice. The scan knows HOCON's keys, objects, arrays, strings and comments; it reads
 * no values.
 */
final class DuplicateDevices {
  private static final String DEVICES = "jdm.devices.";

  private final String text;
  private final String file;
  private int at;
  private int line = 1;
  /** Each table key assigned, with the line of its first assignment. */
  private final Map<String, Integer> seen = new HashMap<>();
  private final List<String> problems = new ArrayList<>();

  private DuplicateDevices(String file, String text) {
    this.file = file;
    this.text = text;
  }

  /** One {@code FILE: LINE: jdm.devices.NAME: why} line per device named a second time. */
  static List<String> find(String file, String text) {
    DuplicateDevices d = new DuplicateDevices(file, text);
    d.object(new ArrayDeque<>(), false);
    return d.problems;
  }

  /** Reads an object's fields until its closing brace (or the end, at the root). */
  private void object(Deque<String> path, boolean braced) {
    while (true) {
      skipSpace(true);
      if (at >= text.length()) {
        return;
      }
      char c = text.charAt(at);
      if (c == '}') {
        at++;
        if (braced) {
          return;
        }
        continue;
      }
      if (c == '{') {
        // The root object's own braces.
        at++;
        object(path, true);
        continue;
      }
      if (text.startsWith("include", at) && !Character.isLetterOrDigit(charAt(at + 7))
          && charAt(at + 7) != '.' && charAt(at + 7) != '=') {
        skipValue();
        continue;
      }
      List<String> key = key();
      if (key.isEmpty()) {
        at++;
        continue;
      }
      int keyLine = line;
      skipSpace(false);
      if (charAt(at) == '+' && charAt(at + 1) == '=') {
        at += 2;
      } else if (charAt(at) == '=' || charAt(at) == ':') {
        at++;
      }
      skipSpace(false);
      Deque<String> inner = new ArrayDeque<>(path);
      key.forEach(inner::addLast);
      if (charAt(at) == '{') {
        at++;
        object(inner, true);
      } else {
        assigned(String.join(".", inner), keyLine);
        skipValue();
      }
    }
  }

  private void assigned(String key, int keyLine) {
    if (!key.startsWith(DEVICES) || !key.endsWith(".table")) {
      return;
    }
    String device = key.substring(0, key.length() - ".table".length());
    if (device.indexOf('.', DEVICES.length()) >= 0) {
      return;
    }
    Integer first = seen.putIfAbsent(key, keyLine);
    if (first != null) {
      problems.add(file + ": " + keyLine + ": " + device + ": a second device called "
          + device.substring(DEVICES.length()) + " (the first is at line " + first
          + "): HOCON would keep only this one's table; rename one");
    }
  }

  /** A key: dot-separated parts, each unquoted or quoted. */
  private List<String> key() {
    List<String> parts = new ArrayList<>();
    StringBuilder part = new StringBuilder();
    while (at < text.length()) {
      char c = text.charAt(at);
      if (c == '"') {
        part.append(quoted());
      } else if (c == '.') {
        parts.add(part.toString());
        part.setLength(0);
        at++;
      } else if (Character.isWhitespace(c) || "{}[]=:,#+".indexOf(c) >= 0
          || (c == '/' && charAt(at + 1) == '/')) {
        break;
      } else {
        part.append(c);
        at++;
      }
    }
    if (!part.isEmpty()) {
      parts.add(part.toString());
    }
    return parts;
  }

  /** Skips a value to the end of its line or a comma, past strings, arrays and objects. */
  private void skipValue() {
    int depth = 0;
    while (at < text.length()) {
      char c = text.charAt(at);
      if (c == '"') {
        quoted();
        continue;
      }
      if (c == '#' || (c == '/' && charAt(at + 1) == '/')) {
        skipComment();
        continue;
      }
      if (c == '[' || c == '{' || (c == '$' && charAt(at + 1) == '{')) {
        depth++;
      } else if (c == ']' || c == '}') {
        if (depth == 0) {
          return;
        }
        depth--;
      } else if ((c == '\n' || c == ',') && depth == 0) {
        return;
      }
      if (c == '\n') {
        line++;
      }
      at++;
    }
  }

  /** Reads a quoted string ("..." or """..."""), returning its text. */
  private String quoted() {
    boolean triple = text.startsWith("\"\"\"", at);
    at += triple ? 3 : 1;
    StringBuilder b = new StringBuilder();
    while (at < text.length()) {
      if (triple ? text.startsWith("\"\"\"", at) : text.charAt(at) == '"') {
        at += triple ? 3 : 1;
        return b.toString();
      }
      char c = text.charAt(at);
      if (c == '\\' && !triple && at + 1 < text.length()) {
        b.append(text.charAt(at + 1));
        at += 2;
        continue;
      }
      if (c == '\n') {
        line++;
      }
      b.append(c);
      at++;
    }
    return b.toString();
  }

  private void skipSpace(boolean newlines) {
    while (at < text.length()) {
      char c = text.charAt(at);
      if (c == '#' || (c == '/' && charAt(at + 1) == '/')) {
        skipComment();
      } else if (c == '\n' && newlines) {
        line++;
        at++;
      } else if ((Character.isWhitespace(c) && c != '\n') || (c == ',' && newlines)) {
        at++;
      } else {
        return;
      }
    }
  }

  private void skipComment() {
    while (at < text.length() && text.charAt(at) != '\n') {
      at++;
    }
  }

  private char charAt(int i) {
    return i < text.length() ? text.charAt(i) : '\0';
  }
}
