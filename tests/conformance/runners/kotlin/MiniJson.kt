package run.porter.sandbox.conformance

// A small JSON reader and writer for the conformance runner: the scenario files in, the result
// lines out. The package itself has no JSON library and the runner should not add one.
// Objects are LinkedHashMap (key order kept), arrays List, numbers Long or Double.

/** Parses one JSON document. */
fun parseJson(text: String): Any? = JsonReader(text).run { value().also { end() } }

private class JsonReader(private val s: String) {
    private var i = 0

    fun end() {
        skip()
        require(i == s.length) { "trailing text at $i" }
    }

    private fun skip() {
        while (i < s.length && s[i].isWhitespace()) i++
    }

    fun value(): Any? {
        skip()
        return when (val c = s[i]) {
            '{' -> obj()
            '[' -> arr()
            '"' -> str()
            't' -> literal("true", true)
            'f' -> literal("false", false)
            'n' -> literal("null", null)
            else -> if (c == '-' || c.isDigit()) num() else error("unexpected '$c' at $i")
        }
    }

    private fun literal(word: String, v: Any?): Any? {
        require(s.startsWith(word, i)) { "bad literal at $i" }
        i += word.length
        return v
    }

    private fun obj(): Map<String, Any?> {
        val out = LinkedHashMap<String, Any?>()
        i++
        skip()
        if (s[i] == '}') return out.also { i++ }
        while (true) {
            skip()
            val key = str()
            skip()
            require(s[i++] == ':') { "expected ':' at $i" }
            out[key] = value()
            skip()
            when (s[i++]) {
                ',' -> continue
                '}' -> return out
                else -> error("expected ',' or '}' at $i")
            }
        }
    }

    private fun arr(): List<Any?> {
        val out = ArrayList<Any?>()
        i++
        skip()
        if (s[i] == ']') return out.also { i++ }
        while (true) {
            out.add(value())
            skip()
            when (s[i++]) {
                ',' -> continue
                ']' -> return out
                else -> error("expected ',' or ']' at $i")
            }
        }
    }

    private fun str(): String {
        require(s[i++] == '"') { "expected a string at $i" }
        val b = StringBuilder()
        while (true) {
            when (val c = s[i++]) {
                '"' -> return b.toString()
                '\\' -> when (val e = s[i++]) {
                    'n' -> b.append('\n')
                    't' -> b.append('\t')
                    'r' -> b.append('\r')
                    'b' -> b.append('\b')
                    'f' -> b.append('\u000c')
                    'u' -> b.append(s.substring(i, i + 4).toInt(16).toChar()).also { i += 4 }
                    else -> b.append(e)
                }
                else -> b.append(c)
            }
        }
    }

    private fun num(): Any {
        val start = i
        while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
        val text = s.substring(start, i)
        return text.toLongOrNull() ?: text.toDouble()
    }
}

/** Writes a value of [parseJson]'s shapes (plus Int) as JSON. */
fun toJson(v: Any?): String = when (v) {
    null -> "null"
    is String -> quote(v)
    is Boolean, is Int, is Long, is Double -> v.toString()
    is Map<*, *> -> v.entries.joinToString(",", "{", "}") { (k, x) -> "${quote(k.toString())}:${toJson(x)}" }
    is List<*> -> v.joinToString(",", "[", "]") { toJson(it) }
    else -> quote(v.toString())
}

private fun quote(s: String): String {
    val b = StringBuilder("\"")
    for (c in s) {
        when {
            c == '"' -> b.append("\\\"")
            c == '\\' -> b.append("\\\\")
            c == '\n' -> b.append("\\n")
            c == '\r' -> b.append("\\r")
            c == '\t' -> b.append("\\t")
            c < ' ' -> b.append(String.format("\\u%04x", c.code))
            else -> b.append(c)
        }
    }
    return b.append('"').toString()
}
