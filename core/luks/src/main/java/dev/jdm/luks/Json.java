package dev.jdm.luks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON of a LUKS2 header, read strictly: objects become {@code Map<String, Object>} (in order),
 * arrays {@code List<Object>}, strings {@code String}, integers {@code Long}, and true, false and
 * null themselves. Fractions, exponents and nesting deeper than {@value #MAX_DEPTH} are refused:
 * cryptsetup writes neither.
 */
final class Json {
  private static final int MAX_DEPTH = 32;
  private final String text;
  private int at;

  private Json(String text) {
    this.text = text;
  }

  /** The value {@code text} holds, with nothing but white space after it. */
  static Object parse(String text) throws LuksException {
    Json j = new Json(text);
    Object v = j.value(0);
    j.space();
    if (j.at != text.length()) {
      throw j.bad("text after the end");
    }
    return v;
  }

  private Object value(int depth) throws LuksException {
    if (depth > MAX_DEPTH) {
      throw bad("nested too deep");
    }
    space();
    if (at >= text.length()) {
      throw bad("it ends early");
    }
    char c = text.charAt(at);
    return switch (c) {
      case '{' -> object(depth);
      case '[' -> array(depth);
      case '"' -> string();
      case 't' -> word("true", Boolean.TRUE);
      case 'f' -> word("false", Boolean.FALSE);
      case 'n' -> word("null", null);
      default -> number();
    };
  }

  private Map<String, Object> object(int depth) throws LuksException {
    Map<String, Object> m = new LinkedHashMap<>();
    at++;
    space();
    if (peek() == '}') {
      at++;
      return m;
    }
    while (true) {
      space();
      if (peek() != '"') {
        throw bad("a name is not a string");
      }
      String name = string();
      space();
      expect(':');
      if (m.put(name, value(depth + 1)) != null) {
        throw bad("\"" + name + "\" appears twice");
      }
      space();
      if (peek() == ',') {
        at++;
      } else {
        expect('}');
        return m;
      }
    }
  }

  private List<Object> array(int depth) throws LuksException {
    List<Object> l = new ArrayList<>();
    at++;
    space();
    if (peek() == ']') {
      at++;
      return l;
    }
    while (true) {
      l.add(value(depth + 1));
      space();
      if (peek() == ',') {
        at++;
      } else {
        expect(']');
        return l;
      }
    }
  }

  private String string() throws LuksException {
    StringBuilder s = new StringBuilder();
    at++;
    while (true) {
      if (at >= text.length()) {
        throw bad("a string is not closed");
      }
      char c = text.charAt(at++);
      if (c == '"') {
        return s.toString();
      }
      if (c < 0x20) {
        throw bad("a control character in a string");
      }
      if (c != '\\') {
        s.append(c);
        continue;
      }
      if (at >= text.length()) {
        throw bad("a string is not closed");
      }
      char e = text.charAt(at++);
      switch (e) {
        case '"', '\\', '/' -> s.append(e);
        case 'b' -> s.append('\b');
        case 'f' -> s.append('\f');
        case 'n' -> s.append('\n');
        case 'r' -> s.append('\r');
        case 't' -> s.append('\t');
        case 'u' -> {
          if (at + 4 > text.length()) {
            throw bad("a short \\u escape");
          }
          try {
            s.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
          } catch (NumberFormatException x) {
            throw bad("a bad \\u escape");
          }
          at += 4;
        }
        default -> throw bad("a bad escape");
      }
    }
  }

  private Object word(String w, Object v) throws LuksException {
    if (!text.startsWith(w, at)) {
      throw bad("an unknown word");
    }
    at += w.length();
    return v;
  }

  private Long number() throws LuksException {
    int start = at;
    if (peek() == '-') {
      at++;
    }
    while (at < text.length() && Character.isDigit(text.charAt(at))) {
      at++;
    }
    try {
      return Long.parseLong(text.substring(start, at));
    } catch (NumberFormatException e) {
      throw bad("not a whole number");
    }
  }

  private char peek() {
    return at < text.length() ? text.charAt(at) : '\0';
  }

  private void expect(char c) throws LuksException {
    if (peek() != c) {
      throw bad("'" + c + "' expected");
    }
    at++;
  }

  private void space() {
    while (at < text.length() && " \t\r\n".indexOf(text.charAt(at)) >= 0) {
      at++;
    }
  }

  private LuksException bad(String why) {
    return new LuksException("LUKS2 metadata is not valid JSON: " + why + " at character " + at);
  }
}
