"""(issue 9: in progress)"""
