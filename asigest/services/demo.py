def is_loaded(session): return False
def build_demo(session, erp_path): raise RuntimeError("in progress")
def logins_text(): return ""
