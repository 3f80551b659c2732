"""(issue 9: in progress)"""
__all__ = []
