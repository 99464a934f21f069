// Package javapropstest holds the table of properties inputs that every
// reader of properties files in gokafka is tested on (server.properties in
// broker, client configs in perftest, the parser itself in javaprops), so
// that they are shown to agree.
package javapropstest

// Case is one properties file and what every reader must make of it.
type Case struct {
	Name  string
	Input string
	Want  map[string]string
}

// Cases are the tricky inputs: separators, continuation lines, escapes,
// comments. Keys are lower case (viper folds case) and none is a Kafka
// configuration key, so a broker reading them only warns.
var Cases = []Case{
	{"separators", "a=1\nb:2\nc 3\nd = 4\ne : 5\nf\t6\n",
		map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}},
	{"key and value separated by a space", "acks all\nlinger.ms    5\n",
		map[string]string{"acks": "all", "linger.ms": "5"}},
	{"comments", "# a comment\n! another\n   # indented\n\na=1\n",
		map[string]string{"a": "1"}},
	{"a comment ending in a backslash does not continue", "# comment \\\nk=v\n",
		map[string]string{"k": "v"}},
	{"continuation lines", "servers=a:9092,\\\n    b:9092,\\\n\tc:9092\nnext=1\n",
		map[string]string{"servers": "a:9092,b:9092,c:9092", "next": "1"}},
	{"an even number of backslashes does not continue", "path=c:\\\\\nnext=1\n",
		map[string]string{"path": `c:\`, "next": "1"}},
	{"escapes", "tab=a\\tb\nnl=a\\nb\nu=\\u0041\\u00e9\nother=\\q\n",
		map[string]string{"tab": "a\tb", "nl": "a\nb", "u": "Aé", "other": "q"}},
	{"escaped separators in keys", "a\\=b=c\nx\\:y:z\nsp\\ ace=1\n",
		map[string]string{"a=b": "c", "x:y": "z", "sp ace": "1"}},
	{"the value keeps later separators", "url=http://h:1/p?a=b\njaas=x required a=\"b\";\n",
		map[string]string{"url": "http://h:1/p?a=b", "jaas": "x required a=\"b\";"}},
	{"empty values", "empty=\nbare\ncolon:\n",
		map[string]string{"empty": "", "bare": "", "colon": ""}},
	{"a later key wins", "k=1\nk=2\n",
		map[string]string{"k": "2"}},
	{"white space and CRLF", "  \t lead = v \r\nwin=2\r\n",
		map[string]string{"lead": "v", "win": "2"}},
	{"no ${} expansion", "a=${b}\nb=1\n",
		map[string]string{"a": "${b}", "b": "1"}},
}
