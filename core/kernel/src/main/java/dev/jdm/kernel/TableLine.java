package dev.jdm.kernel;

import java.util.ArrayList;
import java.util.List;

/**
 * One parsed line of a dmsetup table: {@code <start> <length> <target> <args...>} in 512-byte
 * sectors. Backslash escapes the next character (so {@code \ } keeps a space inside an argument),
 * {@code #} starts a comment line, blank lines are skipped.
 *
 * @param number the line's number in the text, from 1
 */
public record TableLine(int number, long start, long length, String type, List<String> args) {

  /** Parses every line of {@code text}; errors name the device and the line. */
  public static List<TableLine> parseAll(String device, String text) throws DmException {
    List<TableLine> lines = new ArrayList<>();
    String[] raw = text.split("\n", -1);
    for (int i = 0; i < raw.length; i++) {
      List<String> words = split(device, raw[i], i + 1);
      if (words.isEmpty() || words.getFirst().startsWith("#")) {
        continue;
      }
      lines.add(of(device, i + 1, words));
    }
    return lines;
  }

  private static TableLine of(String device, int number, List<String> words) throws DmException {
    if (words.size() < 3) {
      throw new DmException(device + ": table: Invalid format: expected <start> <length> <target>"
          + " [<args>...] (line " + number + ")");
    }
    String type = words.get(2);
    long start = sectors(device, type, "start", words.get(0), number);
    long length = sectors(device, type, "length", words.get(1), number);
    return new TableLine(number, start, length, type, List.copyOf(words.subList(3, words.size())));
  }

  private static long sectors(String device, String type, String what, String word, int number)
      throws DmException {
    try {
      long v = Long.parseLong(word);
      if (v >= 0) {
        return v;
      }
    } catch (NumberFormatException e) {
      // reported below, with the word
    }
    throw new DmException(device + ": " + type + ": Invalid " + what + " sector '" + word
        + "' (line " + number + ")");
  }

  /** Splits one line at unescaped whitespace, resolving backslash escapes. */
  static List<String> split(String device, String line, int number) throws DmException {
    List<String> words = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    boolean inWord = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '\\') {
        if (++i == line.length()) {
          throw new DmException(device + ": table: Backslash at end of line (line " + number + ")");
        }
        word.append(line.charAt(i));
        inWord = true;
      } else if (Character.isWhitespace(c)) {
        if (inWord) {
          words.add(word.toString());
          word.setLength(0);
          inWord = false;
        }
      } else {
        word.append(c);
        inWord = true;
      }
    }
    if (inWord) {
      words.add(word.toString());
    }
    return words;
  }

  /** Escapes an argument so that {@link #split} gives it back unchanged. */
  static String escape(String arg) {
    StringBuilder b = new StringBuilder(arg.length());
    for (int i = 0; i < arg.length(); i++) {
      char c = arg.charAt(i);
      if (c == '\\' || Character.isWhitespace(c)) {
        b.append('\\');
      }
      b.append(c);
    }
    return b.toString();
  }
}
