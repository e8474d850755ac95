"""llm_server"""
