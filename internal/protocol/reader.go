package protocol

// Fields reads typed fields out of a request header kept as a list (Command.RawExt), for the
// requests that have no dedicated header struct here (offsets, admin, client management). Of a
// key repeated, the last value counts (as Lookup and the ACL signature read it). The first
// problem, a required field missing or a value that does not parse, is kept and returned by Err,
// naming the field and the value, so a handler reads every field and checks once.
type Fields struct {
	ext []ExtField
	e   fieldErr
}

// ReadFields returns a reader over ext (not copied).
func ReadFields(ext []ExtField) *Fields { return &Fields{ext: ext} }

// Err is the first problem met, or nil; it matches ErrHeaderField.
func (f *Fields) Err() error { return f.e.err }

// Has reports whether key is present.
func (f *Fields) Has(key string) bool { _, ok := Lookup(f.ext, key); return ok }

// Str returns key's value ("" when absent; an error when absent and required).
func (f *Fields) Str(key string, required bool) string {
	v, ok := Lookup(f.ext, key)
	if !ok && required {
		f.e.missing(key)
	}
	return v
}

// I32 returns key's value as a 32-bit integer (0 when absent or empty and not required).
func (f *Fields) I32(key string, required bool) int32 {
	v, ok := f.num(key, required)
	if !ok {
		return 0
	}
	return f.e.i32(key, v)
}

// I64 returns key's value as a 64-bit integer (0 when absent or empty and not required).
func (f *Fields) I64(key string, required bool) int64 {
	v, ok := f.num(key, required)
	if !ok {
		return 0
	}
	return f.e.i64(key, v)
}

func (f *Fields) num(key string, required bool) (string, bool) {
	v, ok := Lookup(f.ext, key)
	switch {
	case !ok && required:
		f.e.missing(key)
		return "", false
	case ok && v == "" && required:
		f.e.bad(key, v, "is not an integer")
		return "", false
	case !ok || v == "":
		return "", false
	}
	return v, true
}

// Bool is key's value as Java's Boolean.parseBoolean reads it (absent: false).
func (f *Fields) Bool(key string) bool {
	v, _ := Lookup(f.ext, key)
	return ParseBool(v)
}
